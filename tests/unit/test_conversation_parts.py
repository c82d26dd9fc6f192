"""The aggregate assembled from its parts stores every event under its stable topic.

Each part (messages, delivery, fallback, handling) applies its own events; a class that the
assembled ``Conversation`` failed to name would be defined anew by eventsourcing, stored
under the same topic and read back as a class without its ``@event`` method.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from chainon.domain import conversation_events as events
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

EVENT_NAMES = sorted(
    name
    for name, value in vars(events).items()
    if isinstance(value, type)
    and issubclass(value, CanMutateAggregate)
    and value.__module__ == events.__name__
)


def test_every_event_is_the_class_its_topic_reads_back() -> None:
    assert len(EVENT_NAMES) == 28  # 26 facts, the base event and the created one
    for name in EVENT_NAMES:
        triggered = getattr(Conversation, name)
        topic = get_topic(triggered)
        assert topic == f"chainon:Conversation.{name}", name
        assert resolve_topic(topic) is triggered, name
        assert issubclass(triggered, getattr(events, name)), name


def test_events_of_every_part_replay_into_the_same_state() -> None:
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    message_id = uuid4()
    conversation.queue(
        message_id=message_id,
        channel=Channel.RCS,
        sender="brand",
        recipient="+33612345678",
        body="Bonjour",
        encoding=None,
        segments=1,
        replaced=(),
        at=T0,
    )
    conversation.plan_fallback(message_id, Channel.SMS, T0)
    conversation.mark_sent(message_id, provider="rcs", provider_message_id="p-1", at=T0)
    conversation.tag("VIP", at=T0)
    conversation.resolve(by="agent", at=T0)
    stored = conversation.collect_events()
    assert [type(e).__name__ for e in stored] == [
        "Opened",
        "MessageQueued",
        "FallbackPlanned",
        "MessageSent",
        "Tagged",
        "Resolved",
    ]
    replayed = None
    for stored_event in stored:
        read_back = resolve_topic(get_topic(type(stored_event)))
        assert read_back is type(stored_event)
        replayed = stored_event.mutate(replayed)
    assert isinstance(replayed, Conversation)
    assert replayed.__dict__ == conversation.__dict__
