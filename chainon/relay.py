"""The relay: the event store is the outbox, and this publishes it, in order, exactly as stored.

It reads the notification log after its tracked position, publishes each public event
(``domain.public_events``) to the events topic (and each queued message to the outbound
topic), waits until the bus acknowledged all of them, and only then records its new
position in the store. A crash before that re-sends what was not acknowledged, never
skips: consumers that remember the ``position`` of the last event they applied ignore the
repeats. A failed write of the position alone is written again, with nothing re-sent.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Notification, Tracking, TrackingRecorder
from pydantic_core import to_json

from chainon.adapters.bus.port import Bus, Outgoing
from chainon.adapters.channels.port import OutboundMessage, RevokeMessage
from chainon.adapters.persistence.port import log_of
from chainon.core import Core
from chainon.domain.conversation import Conversation
from chainon.domain.public_events import event_data, is_public
from chainon.observability import RELAY_LAG, RELAY_PUBLISHED
from chainon.polling import follow
from chainon.topic_records import dump
from chainon.topics import Topics

NAME = "relay"
log = structlog.get_logger(__name__)

Call = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class _Batch:
    position: int  # the tracked position it follows
    read: int  # notifications read (0: none after the position)
    last: int  # the last one's id
    outgoing: list[Outgoing]
    head: int  # the log's head when nothing was read


def record_json(notification: Notification, event: object, data: dict[str, Any]) -> bytes:
    """The event as an ``EventRecord``'s JSON, without validating a pydantic record first
    (the relay publishes every public event; the record's construction was most of its
    time). The fields, their order and the serializer are the record's."""
    kind = notification.topic.removeprefix("chainon:")
    return to_json(
        {
            "type": kind,
            "schema_version": getattr(type(event), "class_version", 1),
            "aggregate_type": kind.split(".")[0],
            "aggregate_id": UUID(str(notification.originator_id)),
            "aggregate_version": notification.originator_version,
            "position": notification.id,
            "timestamp": event.timestamp,  # type: ignore[attr-defined]
            "data": data,
        }
    )


class Relay:
    def __init__(
        self,
        core: Core,
        bus: Bus,
        tracking: TrackingRecorder,
        topics: Topics,
        call: Call,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.1,
        linger: float = 0.0,
    ) -> None:
        self.core = core
        self.bus = bus
        self.tracking = tracking
        self.topics = topics
        self.call = call
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.linger = linger
        self.published = 0
        # A batch the bus acknowledged whose position the store did not record (the write
        # failed): recorded before anything else, so that it is not published again.
        self._unrecorded: int | None = None
        # conversation → brand, learnt from the Opened events passing by (a conversation's
        # brand never changes), so the outbound record rarely costs a load
        self._brands: OrderedDict[UUID, UUID] = OrderedDict()

    async def run(self, stopping: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        await follow(
            self.run_once,
            stopping,
            name=NAME,
            fastest=self.poll_interval,
            wake=wake,
            linger=self.linger,
        )

    async def run_once(self) -> int:
        """Relays the next batch; returns how many notifications it got past.

        Two trips to the store's thread per batch (read and prepare; record the position),
        one when idle: each trip is a thread hop, and the relay makes them per batch."""
        if self._unrecorded is not None:
            await self.call(self._advance_again, self._unrecorded)
            self._unrecorded = None
        batch: _Batch = await self.call(self._next_batch)
        if not batch.read:
            RELAY_LAG.set(batch.head - batch.position)
            return 0
        await self.bus.publish(batch.outgoing)
        self._unrecorded = batch.last
        head: int = await self.call(self._advance, batch.last)
        self._unrecorded = None
        self.published += len(batch.outgoing)
        RELAY_PUBLISHED.inc(len(batch.outgoing))
        RELAY_LAG.set(head - batch.last)
        return batch.read

    def _next_batch(self) -> _Batch:
        position = self.tracking.max_tracking_id(NAME) or 0
        notifications = log_of(self.core.recorder).notifications(
            start=position + 1, limit=self.batch_size
        )
        if not notifications:
            head = self.core.recorder.max_notification_id() or 0
            return _Batch(position, 0, position, [], head)
        last = notifications[-1].id
        return _Batch(position, len(notifications), last, self._records(notifications), last)

    def _advance(self, last: int) -> int:
        """Records the new position, once the bus acknowledged the batch; returns the head."""
        self.tracking.insert_tracking(Tracking(NAME, last))
        return self.core.recorder.max_notification_id() or 0

    def _advance_again(self, last: int) -> None:
        """Records a position whose first write failed, unless that write took after all."""
        if (self.tracking.max_tracking_id(NAME) or 0) < last:
            self.tracking.insert_tracking(Tracking(NAME, last))

    def _records(self, notifications: Sequence[Notification]) -> list[Outgoing]:
        out: list[Outgoing] = []
        for notification in notifications:
            if not is_public(notification.topic):
                continue
            event = self.core.recent_events(notification)
            data = event_data(event)
            aggregate_id = UUID(str(notification.originator_id))
            key = str(aggregate_id)
            if notification.topic == Conversation.Opened.TOPIC:
                self._remember_brand(aggregate_id, UUID(str(data["brand_id"])))
            out.append(Outgoing(self.topics.events, key, record_json(notification, event, data)))
            if notification.topic == Conversation.MessageQueued.TOPIC:
                outbound = self._outbound(aggregate_id, data)
                out.append(Outgoing(self.topics.outbound, key, dump(outbound)))
            elif notification.topic == Conversation.RevocationRequested.TOPIC:
                # Same key as the send: the dispatcher revokes only after it sent.
                revoke = self._revoke(aggregate_id, data)
                out.append(Outgoing(self.topics.outbound, key, dump(revoke)))
        return out

    def _outbound(self, conversation_id: UUID, data: dict[str, Any]) -> OutboundMessage:
        return OutboundMessage(
            message_id=data["message_id"],
            conversation_id=conversation_id,
            brand_id=self._brand_of(conversation_id),
            channel=data["channel"],
            sender=data["sender"],
            recipient=data["recipient"],
            body=data["body"],
            encoding=data["encoding"],
            segments=data["segments"],
            request_id=data.get("request_id"),
            rich=data.get("rich"),
            check_capability=not data["capability_known"],
            purpose=data["purpose"],
        )

    def _revoke(self, conversation_id: UUID, data: dict[str, Any]) -> RevokeMessage:
        conversation = self.core.get(Conversation, conversation_id)
        message = conversation.message(UUID(str(data["message_id"])))
        return RevokeMessage(
            message_id=message.id,
            conversation_id=conversation.id,
            brand_id=conversation.brand_id,
            channel=message.channel,
            sender=message.sender,
            recipient=message.recipient,
            provider_message_id=message.provider_message_id,
        )

    def _brand_of(self, conversation_id: UUID) -> UUID:
        brand_id = self._brands.get(conversation_id)
        if brand_id is None:
            brand_id = self.core.get(Conversation, conversation_id).brand_id
            self._remember_brand(conversation_id, brand_id)
        return brand_id

    def _remember_brand(self, conversation_id: UUID, brand_id: UUID) -> None:
        self._brands[conversation_id] = brand_id
        if len(self._brands) > 50_000:
            self._brands.popitem(last=False)
