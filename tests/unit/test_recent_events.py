"""The store's followers of one process share what one of them decoded lately."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, StoredEvent

from chainon.domain.addresses import parse_phone
from chainon.domain.contact import Contact
from chainon.recent_events import RecentEvents

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class Decoder:
    """Decodes a contact's events from their notifications, counting the decodes."""

    def __init__(self, events: list[Any]) -> None:
        self.events = {(e.originator_id, e.originator_version): e for e in events}
        self.decoded: list[tuple[UUID, int]] = []

    def __call__(self, stored: StoredEvent) -> DomainEventProtocol[UUID]:
        key = (stored.originator_id, stored.originator_version)
        self.decoded.append(key)
        event: DomainEventProtocol[UUID] = self.events[key]
        return event


def notification(position: int, event: Any) -> Notification:
    return Notification(
        id=position,
        originator_id=event.originator_id,
        originator_version=event.originator_version,
        topic=event.TOPIC if hasattr(event, "TOPIC") else "t",
        state=b"{}",
    )


def a_contact() -> list[Any]:
    contact = Contact.register(uuid4(), parse_phone("+33612345678"), at=AT)
    contact.rename("Léa", at=AT)
    contact.set_attribute("city", "Lyon", at=AT)
    return list(contact.collect_events())


def test_the_second_and_third_followers_get_the_first_ones_decode() -> None:
    events = a_contact()
    decoder = Decoder(events)
    recent = RecentEvents(decoder)
    read = [notification(n, e) for n, e in enumerate(events, start=1)]
    for _follower in ("relay", "views", "webhooks"):
        assert [recent(n) for n in read] == events
    assert len(decoder.decoded) == len(events)  # each decoded once
    assert recent.hits == 2 * len(events)


def test_an_aggregates_load_and_a_follower_far_behind_decode_for_themselves() -> None:
    events = a_contact()
    decoder = Decoder(events)
    recent = RecentEvents(decoder, held=2)
    read = [notification(n, e) for n, e in enumerate(events, start=1)]
    for n in read:
        recent(n)
    assert recent(read[0]) == events[0]  # pushed out by the two after it
    assert len(decoder.decoded) == len(events) + 1
    loaded = StoredEvent(events[1].originator_id, events[1].originator_version, "t", b"{}")
    recent(loaded)  # no position: never taken from (or put in) what is held
    assert len(decoder.decoded) == len(events) + 2


def test_another_event_at_a_held_position_is_decoded_anew() -> None:
    events = a_contact()
    decoder = Decoder(events)
    recent = RecentEvents(decoder)
    recent(notification(1, events[0]))
    assert recent(notification(1, events[1])) == events[1]  # another store's position 1
    assert len(decoder.decoded) == 2


def test_an_erasure_forgets_every_event_held() -> None:
    contact = Contact.register(uuid4(), parse_phone("+33612345678"), at=AT)
    contact.rename("Léa", at=AT)
    contact.erase(by="test", at=AT)
    events = list(contact.collect_events())
    decoder = Decoder(events)
    recent = RecentEvents(decoder)
    read = [notification(n, e) for n, e in enumerate(events, start=1)]
    for n in read:
        recent(n)
    assert recent(read[0]) == events[0]
    assert len(decoder.decoded) == len(events) + 1  # decoded again: read with the key gone


def test_the_views_and_the_outbox_share_the_fact_the_first_one_built() -> None:
    events = a_contact()
    decoder = Decoder(events)
    recent = RecentEvents(decoder)
    read = [notification(n, e) for n, e in enumerate(events, start=1)]
    first = [recent.fact(n) for n in read]
    second = [recent.fact(n) for n in read]
    assert all(a is b for a, b in zip(first, second, strict=True))  # built once
    assert [f.position for f in first] == [1, 2, 3]
    assert first[1].data["name"] == "Léa"
    assert len(decoder.decoded) == len(events)


def test_an_erasure_forgets_every_fact_held() -> None:
    contact = Contact.register(uuid4(), parse_phone("+33612345678"), at=AT)
    contact.rename("Léa", at=AT)
    contact.erase(by="test", at=AT)
    events = list(contact.collect_events())
    decoder = Decoder(events)
    recent = RecentEvents(decoder)
    read = [notification(n, e) for n, e in enumerate(events, start=1)]
    before = [recent.fact(n) for n in read]
    again = recent.fact(read[1])
    assert again is not before[1]  # built anew: its decode reads with the key gone
    assert len(decoder.decoded) == len(events) + 1
