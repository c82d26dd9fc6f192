"""The fast ways from a stored event to what leaves the core give exactly what the
pydantic record gives: the views' fact, and the relay's bytes on the events topic, for
every kind of public event a conversation goes through: rich content, fallback,
receipts, agents."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import Notification

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus
from chainon.domain.public_events import HIDDEN_FIELDS, event_data, is_public
from chainon.domain.rich_content import RichContent
from chainon.projections.facts import fact_from_record, fact_from_store
from chainon.relay import record_json
from chainon.topic_records import EventRecord, dump

AGENT = "acme-agent"
SMS = "+33939000001"
CONSUMER = "+33612345678"
RICH = RichContent.model_validate(
    {
        "text": "Quel créneau ?",
        "suggestions": [
            {"kind": "reply", "text": "Matin", "postback_data": "slot=am"},
            {"kind": "reply", "text": "Après-midi", "postback_data": "slot=pm"},
        ],
    }
)


def event_record(core: Core, notification: Notification) -> EventRecord:
    """The reference: the pydantic record of a stored event, field by field."""
    event = core.mapper.to_domain_event(notification)
    kind = notification.topic.removeprefix("chainon:")
    return EventRecord(
        type=kind,
        schema_version=getattr(type(event), "class_version", 1),
        aggregate_type=kind.split(".")[0],
        aggregate_id=UUID(str(notification.originator_id)),
        aggregate_version=notification.originator_version,
        position=notification.id,
        timestamp=event.timestamp,  # type: ignore[attr-defined]
        data={k: v for k, v in event.__dict__.items() if k not in HIDDEN_FIELDS},
    )


def a_busy_store(path: Path) -> Core:
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
    brand = core.register_brand(
        slug="acme", name="Acme", senders=[(Channel.RCS, AGENT), (Channel.SMS, SMS)]
    )
    rich = core.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, rich=RICH))
    assert rich.conversation_id is not None
    assert rich.message_id is not None
    conversation_id = rich.conversation_id
    core.handle(
        cmd.RecordSendFailure(
            conversation_id=conversation_id, message_id=rich.message_id, reason="not_capable"
        )
    )
    conversation = core.get(Conversation, conversation_id)
    sms = next(m for m in conversation.messages.values() if m.channel is Channel.SMS)
    core.handle(
        cmd.RecordSent(
            conversation_id=conversation_id,
            message_id=sms.id,
            provider="sandbox",
            provider_message_id="sms-1",
        )
    )
    core.handle(
        cmd.RecordReceipt(
            provider="sandbox", provider_message_id="sms-1", status=MessageStatus.DELIVERED
        )
    )
    core.handle(
        cmd.ReceiveMessage(
            provider="sandbox",
            provider_message_id="in-1",
            channel=Channel.SMS,
            sender=CONSUMER,
            recipient=SMS,
            body="2",
        )
    )
    for command in (
        cmd.AssignConversation(
            brand_id=brand.id, conversation_id=conversation_id, agent="lea", team="care"
        ),
        cmd.TagConversation(brand_id=brand.id, conversation_id=conversation_id, add=["vip"]),
        cmd.ResolveConversation(brand_id=brand.id, conversation_id=conversation_id),
        cmd.ReopenConversation(brand_id=brand.id, conversation_id=conversation_id),
    ):
        core.handle(command)
    contact_id = core.get(Conversation, conversation_id).contact_id
    core.handle(
        cmd.UpdateContact(
            brand_id=brand.id, contact_id=contact_id, name="Léa", attributes={"tier": "gold"}
        )
    )
    return core


def test_every_public_event_gives_the_same_fact_both_ways(tmp_path: Path) -> None:
    core = a_busy_store(tmp_path / "store.sqlite3")
    notifications = core.recorder.select_notifications(start=1, limit=10_000)
    public = [n for n in notifications if is_public(n.topic)]
    kinds = {n.topic for n in public}
    assert len(kinds) >= 12  # the flow above reached most kinds of event
    for notification in public:
        from_store = fact_from_store(core.mapper.to_domain_event, notification)
        assert from_store == fact_from_record(dump(event_record(core, notification)))


def test_every_public_event_is_published_as_the_record_would_be(tmp_path: Path) -> None:
    core = a_busy_store(tmp_path / "store.sqlite3")
    public = [
        n for n in core.recorder.select_notifications(start=1, limit=10_000) if is_public(n.topic)
    ]
    for notification in public:
        event = core.mapper.to_domain_event(notification)
        fast = record_json(notification, event, event_data(event))
        assert fast == dump(event_record(core, notification))  # byte for byte
