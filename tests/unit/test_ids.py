"""Stored ids and index keys are derived from these formats: a change orphans stored data.

If one of these fails, do not update the expected value: add a new format (or an
upcaster) and keep the old one readable.
"""

from __future__ import annotations

from uuid import UUID

from chainon.domain import ids
from chainon.domain.addresses import parse_email, parse_phone
from chainon.domain.channels import Channel
from chainon.domain.idempotency import request_id
from chainon.domain.index import (
    IndexKind,
    contact_key,
    entry_id,
    inbound_key,
    outbound_key,
    sender_key,
)

BRAND = UUID("00000000-0000-0000-0000-0000000000b1")
CONTACT = UUID("00000000-0000-0000-0000-0000000000c1")
MESSAGE = UUID("00000000-0000-0000-0000-0000000000a1")


def test_the_namespace_is_pinned() -> None:
    assert str(ids.NAMESPACE) == "4f1c5b2e-6d1a-5c3e-9b7a-0c4e2f6a8d10"


def test_aggregate_ids_are_pinned() -> None:
    assert str(ids.brand_id("acme")) == "3cfa1fd9-0eff-511a-bd72-7e0a975db145"
    assert str(ids.contact_id(BRAND, "+33612345678")) == "f1b0c805-74af-5905-9f6a-956b6aa00f2e"
    assert str(ids.conversation_id(CONTACT, 1)) == "e33cc97c-c28d-5a6c-8bdd-549bcc865b15"
    assert str(ids.inbound_message_id("sandbox", "p-1")) == "27b3f93b-acc0-520c-9525-dfea7d1faddc"
    scoped = ids.inbound_message_id("sandbox", "p-1", BRAND)  # the sandbox's, per brand
    assert str(scoped) == "5b6ac5f4-022f-51cd-9c46-e23bae0af803"
    assert str(ids.index_id("api-key", "abc")) == "6f54abf7-f84b-57a2-8811-d41a292d33a5"
    assert str(ids.early_receipt_id("smpp", "x")) == "d040b896-019b-55bb-a7bb-4fc3310e25cf"
    assert str(ids.fallback_message_id(MESSAGE)) == "ce95ce90-187c-57cd-9bec-3e10af69611a"
    assert str(ids.agent_desk_id(BRAND, "ana")) == "c1e39225-7224-5736-81a0-e576fe8f8c3c"
    assert str(ids.consent_id(BRAND, CONTACT)) == "f9198395-1f64-58e3-afab-44d79190d31d"
    assert str(request_id(BRAND, "k")) == "c5d16a8f-edd6-51cc-ba4f-22bcb5718ec3"


def test_index_keys_are_pinned() -> None:
    phone = parse_phone("06 12 34 56 78", default_region="FR")
    assert sender_key(Channel.SMS, "+33939000001") == "sms:+33939000001"
    assert sender_key(Channel.RCS, "acme_agent") == "rcs:acme_agent"
    assert contact_key(BRAND, phone) == f"{BRAND}:+33612345678"
    assert contact_key(BRAND, parse_email("Jo@Example.com")) == f"{BRAND}:jo@example.com"
    assert inbound_key("sandbox", "p-1") == "in:sandbox:p-1"
    assert inbound_key("smpp:main", "0A1B") == "in:smpp:main:0A1B"
    assert inbound_key("sandbox", "p-1", BRAND) == f"in-brand:{BRAND}:sandbox:p-1"
    assert outbound_key("smpp:main", "0A1B") == "out:smpp:main:0A1B"


def test_index_entry_ids_follow_their_kind_and_key() -> None:
    assert [k.value for k in IndexKind] == [
        "sender-address",
        "api-key",
        "contact-address",
        "provider-message",
    ]
    assert entry_id(IndexKind.SENDER_ADDRESS, "sms:+33939000001") == ids.index_id(
        "sender-address", "sms:+33939000001"
    )


def test_a_brands_sandbox_key_never_meets_a_key_without_a_brand() -> None:
    """Whatever id a caller picks, the scoped key cannot be an unscoped one: the two
    namespaces differ from their first characters."""
    crafted = f"brand:{BRAND}:p-1"
    assert inbound_key("sandbox", "p-1", BRAND) != inbound_key("sandbox", crafted)
    assert not inbound_key("sandbox", crafted).startswith("in-brand:")
    other = UUID("00000000-0000-0000-0000-0000000000b2")
    assert inbound_key("sandbox", "p-1", BRAND) != inbound_key("sandbox", "p-1", other)
    assert ids.inbound_message_id("sandbox", "p-1", BRAND) != ids.inbound_message_id(
        "sandbox", "p-1", other
    )


CAMPAIGN = UUID("00000000-0000-0000-0000-0000000000ca")


def test_a_campaign_message_id_is_pinned_per_campaign_and_recipient() -> None:
    """A restarted campaign worker finds the message it sent before under the same id."""
    first = ids.campaign_message_id(CAMPAIGN, "+33612345678")
    assert str(first) == "a7528fc6-b352-5117-967d-8df79629747e"
    assert ids.campaign_message_id(CAMPAIGN, "+33612345678") == first
    assert ids.campaign_message_id(CAMPAIGN, "+33612345679") != first
    assert ids.campaign_message_id(BRAND, "+33612345678") != first
