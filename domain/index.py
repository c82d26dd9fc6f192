"""Index entries: a natural key claimed once, pointing at an aggregate.

An entry's id is a uuid5 of its key, so two claims of one key collide in the event store.
That collision is how Chainon makes ownership unique (a sender address belongs to one
brand, a contact address to one contact, a provider message id to one message) without
a read-then-write race.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids
from chainon.domain.addresses import Address


class IndexKind(StrEnum):
    SENDER_ADDRESS = "sender-address"  # channel:address → brand
    API_KEY = "api-key"  # key id → brand
    CONTACT_ADDRESS = "contact-address"  # brand:address → contact
    PROVIDER_MESSAGE = "provider-message"  # provider:provider id → conversation (+ message)


class IndexEntry(Aggregate):
    TOPIC = "chainon:IndexEntry"

    class Event(Aggregate.Event):
        TOPIC = "chainon:IndexEntry.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:IndexEntry.Created"

    class Claimed(Created):
        TOPIC = "chainon:IndexEntry.Claimed"
        kind: str
        target_id: UUID
        detail: str

    @event(Claimed)
    def __init__(self, kind: str, target_id: UUID, detail: str) -> None:
        self.kind = IndexKind(kind)
        self.target_id = target_id
        self.detail = detail

    @classmethod
    def claim(
        cls, kind: IndexKind, key: str, target_id: UUID, *, at: datetime, detail: str = ""
    ) -> IndexEntry:
        return cls._create(
            cls.Claimed,
            id=entry_id(kind, key),
            timestamp=at,
            kind=kind.value,
            target_id=target_id,
            detail=detail,
        )


def entry_id(kind: IndexKind, key: str) -> UUID:
    return ids.index_id(kind.value, key)


# The keys below are stored: each index entry's id is derived from one. Changing a format
# orphans every entry written with the old one (tests/unit/test_ids.py pins them).


def sender_key(channel: str, address: str) -> str:
    """A brand's own address on a channel (normalised): inbound messages find their brand."""
    return f"{channel}:{address}"


def contact_key(brand_id: UUID, address: Address) -> str:
    """One contact per address within a brand."""
    return f"{brand_id}:{address}"


def inbound_key(provider: str, provider_message_id: str, brand_id: UUID | None = None) -> str:
    """An inbound message, once per provider id (a provider's retry is recognised).

    A real provider's ids are unique across the provider (an SMSC's message id, RBM's,
    an email's Message-ID), whichever brand the message is for: their key is the one
    always stored, unchanged. The sandbox's ids are chosen by whoever plays the consumer
    with a brand's API key, so two brands may choose the same one: the sandbox passes
    ``brand_id``, and the key then lives in a namespace of its own (``in-brand:``), which
    no key stored before, nor another brand's, can meet. Keys the sandbox stored before
    (``in:sandbox:…``) still mean what they meant; ``chainon.handlers.inbound`` honours
    them for the brand whose message they name, and for no other.
    """
    if brand_id is None:
        return f"in:{provider}:{provider_message_id}"
    return f"in-brand:{brand_id}:{provider}:{provider_message_id}"


def outbound_key(provider: str, segment_id: str) -> str:
    """One sent segment: receipts come per segment and must find their message."""
    return f"out:{provider}:{segment_id}"
