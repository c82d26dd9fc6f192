"""Refused inbound messages: kept whole with their reason, under the inbound message's own
id so that a provider's retry is recognised, and the same from the stored events."""

from __future__ import annotations

from datetime import UTC, datetime

from eventsourcing.application import Application

from chainon.domain.ids import inbound_message_id
from chainon.domain.refusal import RefusedInbound

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WHAT = {
    "provider": "smpp:main",
    "provider_message_id": "mo-42",
    "channel": "sms",
    "sender": "+33612345678",
    "recipient": "+33939999999",
    "body": "Bonjour, c'est pour la livraison",
    "reason": "unknown destination",
}


def refused() -> RefusedInbound:
    return RefusedInbound.refuse(inbound_message_id("smpp:main", "mo-42"), at=T0, **WHAT)


def test_a_refusal_keeps_the_message_and_its_reason() -> None:
    refusal = refused()
    assert refusal.id == inbound_message_id("smpp:main", "mo-42")
    assert {key: getattr(refusal, key) for key in WHAT} == WHAT
    (event,) = refusal.collect_events()
    assert isinstance(event, RefusedInbound.InboundRefused)
    assert event.timestamp == T0
    assert {key: getattr(event, key) for key in WHAT} == WHAT


def test_a_retry_of_the_refused_message_has_the_same_id_and_another_message_not() -> None:
    assert refused().id == refused().id
    other = RefusedInbound.refuse(inbound_message_id("smpp:main", "mo-43"), at=T0, **WHAT)
    assert other.id != refused().id


def test_what_the_sender_wrote_is_marked_personal() -> None:
    assert set(RefusedInbound.InboundRefused.personal_fields) == {"sender", "body"}


def test_the_stored_refusal_reads_back_the_same() -> None:
    app = Application()
    app.save(refused())
    stored = app.repository.get(inbound_message_id("smpp:main", "mo-42"))
    assert isinstance(stored, RefusedInbound)
    assert {key: getattr(stored, key) for key in WHAT} == WHAT
    assert stored.version == 1
