"""The contact aggregate: its decisions, and the same state again from its events.

Commands decide (a repeat is no event); the events alone rebuild the contact, through
eventsourcing's in-memory store and its JSON transcoding.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain import ids
from chainon.domain.addresses import Address
from chainon.domain.channels import AddressKind, Channel
from chainon.domain.contact import CAPABILITY_TTL, MAX_ATTRIBUTE_LENGTH, MAX_NAME_LENGTH, Contact
from chainon.domain.errors import InvalidInput

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PHONE = Address(AddressKind.PHONE, "+33612345678")
EMAIL = Address(AddressKind.EMAIL, "claire.martin@example.org")


def registered(brand_id: UUID | None = None) -> Contact:
    return Contact.register(brand_id or uuid4(), PHONE, at=T0)


def reloaded(contact: Contact) -> Contact:
    """The contact as the store gives it back: rebuilt from its stored events alone."""
    app = Application()
    app.save(contact)
    loaded = app.repository.get(contact.id)
    assert isinstance(loaded, Contact)
    return loaded


def kinds(contact: Contact) -> list[type]:
    return [type(e) for e in contact.collect_events()]


def test_a_contact_is_registered_under_an_id_made_from_brand_and_first_address() -> None:
    brand_id = uuid4()
    contact = registered(brand_id)
    assert contact.id == ids.contact_id(brand_id, PHONE.value)
    assert contact.id == Contact.register(brand_id, PHONE, at=T0).id  # a racing twin collides
    assert contact.id != Contact.register(uuid4(), PHONE, at=T0).id  # another brand's contact
    assert (contact.brand_id, contact.addresses) == (brand_id, [PHONE])
    assert (contact.conversation_count, contact.current_conversation_id) == (0, None)
    assert (contact.name, contact.attributes, contact.last_channel) == (None, {}, None)
    assert kinds(contact) == [Contact.Registered]


def test_an_address_is_added_once() -> None:
    contact = registered()
    assert contact.add_address(EMAIL, at=T0)
    assert not contact.add_address(EMAIL, at=T0)
    assert not contact.add_address(PHONE, at=T0)  # the first one, already there
    assert contact.addresses == [PHONE, EMAIL]
    assert kinds(contact) == [Contact.Registered, Contact.AddressAdded]
    assert contact.address_of(AddressKind.EMAIL) == EMAIL
    assert contact.address_of(AddressKind.PHONE) == PHONE


def test_an_address_of_a_kind_it_lacks_is_none() -> None:
    assert registered().address_of(AddressKind.EMAIL) is None


def test_conversations_are_numbered_and_their_ids_follow_from_the_number() -> None:
    contact = registered()
    first = contact.start_conversation(at=T0)
    second = contact.start_conversation(at=T0 + timedelta(days=3))
    assert first == (ids.conversation_id(contact.id, 1), 1)
    assert second == (ids.conversation_id(contact.id, 2), 2)
    assert first[0] != second[0]
    assert (contact.conversation_count, contact.current_conversation_id) == (2, second[0])


def test_a_name_is_tidied_checked_and_recorded_only_when_it_changes() -> None:
    contact = registered()
    assert contact.rename("  Claire \n Martin ", at=T0)
    assert contact.name == "Claire Martin"
    assert not contact.rename("Claire Martin", at=T0)
    assert not contact.rename(" Claire   Martin", at=T0)  # the same once tidied
    with pytest.raises(InvalidInput) as refused:
        contact.rename("   ", at=T0)
    assert refused.value.field == "name"
    with pytest.raises(InvalidInput):
        contact.rename("x" * (MAX_NAME_LENGTH + 1), at=T0)
    assert contact.rename("x" * MAX_NAME_LENGTH, at=T0)
    assert contact.rename(None, at=T0)  # forgotten
    assert not contact.rename(None, at=T0)
    assert contact.name is None
    assert kinds(contact).count(Contact.Renamed) == 3


@given(st.text(max_size=200))
def test_any_name_is_either_refused_or_kept_with_its_spaces_collapsed(name: str) -> None:
    contact = registered()
    tidy = " ".join(name.split())
    if not 1 <= len(tidy) <= MAX_NAME_LENGTH:
        with pytest.raises(InvalidInput):
            contact.rename(name, at=T0)
        assert contact.name is None
    else:
        assert contact.rename(name, at=T0)
        assert contact.name == tidy
        assert reloaded(contact).name == tidy


def test_attributes_are_set_changed_and_cleared_once_each() -> None:
    contact = registered()
    assert contact.set_attribute("delivery.city", "Lyon", at=T0)
    assert not contact.set_attribute("delivery.city", "Lyon", at=T0)
    assert contact.set_attribute("delivery.city", "Lille", at=T0)
    assert contact.attributes == {"delivery.city": "Lille"}
    assert contact.set_attribute("delivery.city", None, at=T0)
    assert not contact.set_attribute("delivery.city", None, at=T0)
    assert not contact.set_attribute("never-set", None, at=T0)
    assert contact.attributes == {}
    assert kinds(contact)[1:] == [
        Contact.AttributeSet,
        Contact.AttributeSet,
        Contact.AttributeCleared,
    ]


@pytest.mark.parametrize("key", ["", "City", "a b", "x" * 65, "é", "a/b"])
def test_an_attribute_key_outside_the_pattern_is_refused(key: str) -> None:
    contact = registered()
    with pytest.raises(InvalidInput) as refused:
        contact.set_attribute(key, "v", at=T0)
    assert refused.value.field == f"attributes.{key}"
    assert contact.attributes == {}


def test_an_attribute_value_over_the_limit_is_refused() -> None:
    contact = registered()
    assert contact.set_attribute("note", "x" * MAX_ATTRIBUTE_LENGTH, at=T0)
    with pytest.raises(InvalidInput):
        contact.set_attribute("note", "x" * (MAX_ATTRIBUTE_LENGTH + 1), at=T0)
    assert contact.attributes["note"] == "x" * MAX_ATTRIBUTE_LENGTH


def test_the_channel_reached_is_recorded_only_when_it_changes() -> None:
    contact = registered()
    contact.reached_on(Channel.SMS, at=T0)
    contact.reached_on(Channel.SMS, at=T0)
    contact.reached_on(Channel.RCS, at=T0)
    contact.reached_on(Channel.SMS, at=T0)
    assert contact.last_channel is Channel.SMS
    assert kinds(contact).count(Contact.ChannelReached) == 3


def test_a_capability_answer_is_trusted_for_its_ttl_then_unknown() -> None:
    contact = registered()
    assert contact.capable_of(Channel.RCS, at=T0) is None  # never asked
    assert contact.capability_checked(Channel.RCS, True, ["RICHCARD_STANDALONE"], at=T0)
    assert contact.capable_of(Channel.RCS, at=T0 + CAPABILITY_TTL) is True
    assert contact.capable_of(Channel.RCS, at=T0 + CAPABILITY_TTL + timedelta(seconds=1)) is None
    assert contact.capable_of(Channel.SMS, at=T0) is None  # asked about RCS only


def test_an_unchanged_answer_is_recorded_again_only_once_half_its_ttl_is_gone() -> None:
    contact = registered()
    half = CAPABILITY_TTL / 2
    assert contact.capability_checked(Channel.RCS, True, [], at=T0)
    assert not contact.capability_checked(
        Channel.RCS, True, [], at=T0 + half - timedelta(microseconds=1)
    )
    assert contact.capability_checked(Channel.RCS, True, [], at=T0 + half)
    # Fresh again from that second record on: trusted a whole TTL past it.
    assert contact.capable_of(Channel.RCS, at=T0 + half + CAPABILITY_TTL) is True
    # A changed answer is recorded at once.
    assert contact.capability_checked(Channel.RCS, False, [], at=T0 + half + timedelta(hours=1))
    assert contact.capable_of(Channel.RCS, at=T0 + half + timedelta(hours=1)) is False
    assert kinds(contact).count(Contact.CapabilityChecked) == 3


def test_the_events_alone_rebuild_the_contact() -> None:
    contact = registered()
    contact.add_address(EMAIL, at=T0)
    contact.start_conversation(at=T0)
    contact.start_conversation(at=T0 + timedelta(hours=1))
    contact.rename("Claire Martin", at=T0)
    contact.set_attribute("city", "Lyon", at=T0)
    contact.set_attribute("size", "M", at=T0)
    contact.set_attribute("size", None, at=T0)
    contact.reached_on(Channel.EMAIL, at=T0)
    contact.capability_checked(Channel.RCS, False, [], at=T0)

    again = reloaded(contact)

    assert again.version == contact.version == 10
    assert again.addresses == [PHONE, EMAIL]
    assert (again.conversation_count, again.current_conversation_id) == (
        2,
        ids.conversation_id(contact.id, 2),
    )
    assert (again.name, again.attributes, again.last_channel) == (
        "Claire Martin",
        {"city": "Lyon"},
        Channel.EMAIL,
    )
    assert again.capabilities == {Channel.RCS: (False, T0)}
    # The rebuilt contact decides as the original: a repeat is still no change.
    assert not again.add_address(EMAIL, at=T0)
    assert not again.capability_checked(Channel.RCS, False, [], at=T0 + timedelta(hours=1))
    assert again.start_conversation(at=T0)[1] == 3
