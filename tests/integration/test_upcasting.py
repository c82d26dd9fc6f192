"""Stored events keep their meaning: a v1 ``Conversation.Assigned``, written before v2
existed, still loads, upcast to v2."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from chainon.core import Core
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CAMPAIGN = UUID("00000000-0000-4000-8000-0000000000ca")


def stored(originator: object, version: int, topic: str, state: dict[str, object]) -> StoredEvent:
    return StoredEvent(
        originator_id=originator,
        originator_version=version,
        topic=topic,
        state=json.dumps(state).encode(),
    )


def test_a_v1_assignment_stored_earlier_loads_as_v2() -> None:
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation_id, brand_id, contact_id = uuid4(), uuid4(), uuid4()
    when = {"_type_": "datetime_iso", "_data_": T0.isoformat()}
    # Exactly what v1 of the code wrote: no "how", no class_version.
    core.recorder.insert_events(
        [
            stored(
                conversation_id,
                1,
                "chainon:Conversation.Opened",
                {
                    "timestamp": when,
                    "originator_topic": "chainon:Conversation",
                    "brand_id": {"_type_": "uuid_hex", "_data_": brand_id.hex},
                    "contact_id": {"_type_": "uuid_hex", "_data_": contact_id.hex},
                    "number": 1,
                },
            ),
            stored(
                conversation_id,
                2,
                "chainon:Conversation.Assigned",
                {
                    "timestamp": when,
                    "agent": "camille",
                    "team": "support",
                },
            ),
        ]
    )
    conversation = core.get(Conversation, conversation_id)
    assert (conversation.agent, conversation.team, conversation.claimed) == (
        "camille",
        "support",
        False,
    )
    (assigned,) = [
        e for e in core.events.get(conversation_id) if isinstance(e, Conversation.Assigned)
    ]
    assert assigned.how == "assigned"


def test_new_assignments_are_stored_as_v2() -> None:
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    conversation.claim("camille", at=T0)
    core.save(conversation)
    (notification,) = core.recorder.select_notifications(
        start=1, limit=10, topics=[Conversation.Assigned.TOPIC]
    )
    state = json.loads(notification.state)
    assert state["class_version"] == 2
    assert state["how"] == "claimed"


def test_a_v1_send_stored_earlier_loads_as_one_segment() -> None:
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    message_id = uuid4()
    conversation.queue(
        message_id=message_id,
        channel=Channel.SMS,
        sender="+33939000001",
        recipient="+33612345678",
        body="x",
        encoding="gsm7",
        segments=1,
        replaced=(),
        at=T0,
    )
    core.save(conversation)
    when = {"_type_": "datetime_iso", "_data_": T0.isoformat()}
    core.recorder.insert_events(
        [
            stored(
                conversation.id,
                conversation.version + 1,
                "chainon:Conversation.MessageSent",
                {
                    "timestamp": when,
                    "message_id": {"_type_": "uuid_hex", "_data_": message_id.hex},
                    "provider": "smpp",
                    "provider_message_id": "1A2B",
                },
            ),
        ]
    )
    loaded = core.get(Conversation, conversation.id)
    assert loaded.message(message_id).pending_segments == ["1A2B"]
    assert loaded.record_outcome(message_id, MessageStatus.DELIVERED, at=T0, segment_id="1A2B")
    assert loaded.message(message_id).status is MessageStatus.DELIVERED


def test_a_v2_send_stored_earlier_loads_as_v3_with_its_capability_unknown() -> None:
    """An RCS message queued before v3 is checked for capability again when relayed."""
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    core.save(conversation)
    message_id = uuid4()
    # Exactly what v2 of the code wrote: no "capability_known".
    core.recorder.insert_events(
        [
            stored(
                conversation.id,
                conversation.version + 1,
                "chainon:Conversation.MessageQueued",
                {
                    "timestamp": {"_type_": "datetime_iso", "_data_": T0.isoformat()},
                    "class_version": 2,
                    "message_id": {"_type_": "uuid_hex", "_data_": message_id.hex},
                    "channel": "rcs",
                    "sender": "acme-agent",
                    "recipient": "+33612345678",
                    "body": "Bonjour",
                    "encoding": None,
                    "segments": 1,
                    "replaced": [],
                    "request_id": None,
                    "rich": None,
                    "fallback_of": None,
                },
            )
        ]
    )
    (queued,) = [
        e for e in core.events.get(conversation.id) if isinstance(e, Conversation.MessageQueued)
    ]
    assert queued.capability_known is False
    assert core.get(Conversation, conversation.id).message(message_id).channel is Channel.RCS


def test_new_sends_are_stored_as_v5_with_their_purpose_and_campaign() -> None:
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    conversation.queue(
        message_id=uuid4(),
        channel=Channel.RCS,
        sender="acme-agent",
        recipient="+33612345678",
        body="x",
        encoding=None,
        segments=1,
        replaced=(),
        at=T0,
        capability_known=True,
        purpose=Purpose.MARKETING,
        campaign_id=CAMPAIGN,
    )
    core.save(conversation)
    (notification,) = core.recorder.select_notifications(
        start=1, limit=10, topics=[Conversation.MessageQueued.TOPIC]
    )
    state = json.loads(notification.state)
    assert (state["class_version"], state["capability_known"]) == (5, True)
    assert state["purpose"] == "marketing"
    assert state["campaign_id"] == {"_type_": "uuid_hex", "_data_": CAMPAIGN.hex}


def test_a_v3_send_stored_earlier_loads_as_a_service_message() -> None:
    """Before purposes, every send was taken as service: the one that needs no consent."""
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    core.save(conversation)
    message_id = uuid4()
    # Exactly what v3 of the code wrote: no "purpose".
    core.recorder.insert_events(
        [
            stored(
                conversation.id,
                conversation.version + 1,
                "chainon:Conversation.MessageQueued",
                {
                    "timestamp": {"_type_": "datetime_iso", "_data_": T0.isoformat()},
                    "class_version": 3,
                    "message_id": {"_type_": "uuid_hex", "_data_": message_id.hex},
                    "channel": "sms",
                    "sender": "+33939000001",
                    "recipient": "+33612345678",
                    "body": "Bonjour",
                    "encoding": "gsm7",
                    "segments": 1,
                    "replaced": [],
                    "request_id": None,
                    "rich": None,
                    "fallback_of": None,
                    "capability_known": False,
                },
            )
        ]
    )
    (queued,) = [
        e for e in core.events.get(conversation.id) if isinstance(e, Conversation.MessageQueued)
    ]
    assert queued.purpose == "service"
    loaded = core.get(Conversation, conversation.id).message(message_id)
    assert loaded.purpose is Purpose.SERVICE


def test_a_v1_inbound_message_stored_earlier_loads_as_v2_from_a_person() -> None:
    """Before v2, no message was known to be automatic, and none kept a subject or
    attachments: so they load, and the projections read them, as before."""
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    core.save(conversation)
    message_id = uuid4()
    # Exactly what v1 of the code wrote: no class_version, none of the new fields.
    core.recorder.insert_events(
        [
            stored(
                conversation.id,
                conversation.version + 1,
                "chainon:Conversation.MessageReceived",
                {
                    "timestamp": {"_type_": "datetime_iso", "_data_": T0.isoformat()},
                    "message_id": {"_type_": "uuid_hex", "_data_": message_id.hex},
                    "channel": "email",
                    "sender": "claire@example.org",
                    "recipient": "bonjour@maison.example",
                    "body": "Bonjour",
                    "provider": "smtp",
                    "provider_message_id": "m-1@example.org",
                    "request_id": None,
                },
            ),
        ]
    )
    message = core.get(Conversation, conversation.id).message(message_id)
    assert (message.body, message.subject, message.attachments, message.automatic) == (
        "Bonjour",
        None,
        (),
        False,
    )
    (received,) = [
        e for e in core.events.get(conversation.id) if isinstance(e, Conversation.MessageReceived)
    ]
    assert (received.subject, received.attachments, received.automatic) == (None, [], False)


def test_new_inbound_messages_are_stored_as_v2() -> None:
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    conversation.receive(
        message_id=uuid4(),
        channel=Channel.EMAIL,
        sender="claire@example.org",
        recipient="bonjour@maison.example",
        body="Absente",
        provider="smtp",
        provider_message_id="ooo@example.org",
        at=T0,
        automatic=True,
    )
    core.save(conversation)
    (notification,) = core.recorder.select_notifications(
        start=1, limit=10, topics=[Conversation.MessageReceived.TOPIC]
    )
    state = json.loads(notification.state)
    assert (state["class_version"], state["automatic"], state["attachments"]) == (2, True, [])


def _held(core: Core, conversation: Conversation, topic: str, extra: dict[str, object]) -> UUID:
    message_id = uuid4()
    core.recorder.insert_events(
        [
            stored(
                conversation.id,
                conversation.version + 1,
                topic,
                {
                    "timestamp": {"_type_": "datetime_iso", "_data_": T0.isoformat()},
                    "message_id": {"_type_": "uuid_hex", "_data_": message_id.hex},
                    "channel": "sms",
                    "sender": "+33939000001",
                    "recipient": "+33612345678",
                    "body": "Promo STOP SMS",
                    "encoding": "gsm7",
                    "segments": 1,
                    "replaced": [],
                    "request_id": None,
                    "rich": None,
                    "purpose": "marketing",
                    **extra,
                },
            )
        ]
    )
    return message_id


def test_v4_sends_and_v1_holds_stored_earlier_load_as_no_campaigns() -> None:
    """Before campaigns, no message was a campaign's: ``campaign_id`` reads as None."""
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    core.save(conversation)
    release = {"_type_": "datetime_iso", "_data_": T0.isoformat()}
    deferred = _held(
        core,
        conversation,
        "chainon:Conversation.MessageDeferred",
        {"release_at": release, "not_after": None, "fallback_after_seconds": None},
    )
    conversation = core.get(Conversation, conversation.id)
    blocked = _held(
        core, conversation, "chainon:Conversation.MessageBlocked", {"reason": "opted_out"}
    )
    conversation = core.get(Conversation, conversation.id)
    queued = _held(
        core,
        conversation,
        "chainon:Conversation.MessageQueued",
        {"class_version": 4, "fallback_of": None, "capability_known": False},
    )
    events = list(core.events.get(conversation.id))
    assert [getattr(e, "campaign_id", "absent") for e in events[1:]] == [None, None, None]
    loaded = core.get(Conversation, conversation.id)
    for message_id in (deferred, blocked, queued):
        assert loaded.message(message_id).campaign_id is None
    assert loaded.message(blocked).status is MessageStatus.BLOCKED
