"""Stored events and published records turned into facts, the one shape projections read.

Embedded, the runner reads the event store; distributed, the events topic: both must give
the same fact for the same event, field by field, or the two modes would build different
rows. The topic's record is read with a model of the projections' own (the core's
``EventRecord`` is its writer's, and the read side does not import the core); a test
holds the two to the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, StoredEvent
from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python

from chainon.domain.public_events import event_data, is_public
from chainon.projections.projection import Fact

# The store's mapper: upcasters, transcoder and cipher are the core's, so it is passed in.
Decode = Callable[[StoredEvent], DomainEventProtocol[UUID]]


class PublishedEvent(BaseModel):
    """A domain event as the events topic carries it."""

    model_config = ConfigDict(frozen=True)
    type: str
    schema_version: int = 1
    aggregate_type: str
    aggregate_id: UUID
    aggregate_version: int
    position: int
    timestamp: datetime
    data: dict[str, Any]


def fact_from_record(value: bytes) -> Fact:
    """The fact of a record read from the events topic; a ``ValueError`` if unreadable."""
    record = PublishedEvent.model_validate_json(value)
    as_json = record.model_dump(mode="json")
    return Fact(
        type=record.type,
        aggregate_id=str(record.aggregate_id),
        aggregate_version=record.aggregate_version,
        position=record.position,
        timestamp=record.timestamp,
        data=as_json["data"],
    )


def facts_of(decode: Decode, notifications: Sequence[Notification]) -> list[Fact]:
    """The facts of the public events among these notifications, in their order."""
    return [fact_from_store(decode, n) for n in notifications if is_public(n.topic)]


def fact_from_store(decode: Decode, notification: Notification) -> Fact:
    """``fact_from_record`` of the event's published record, without building and dumping
    a pydantic record in between (that was two thirds of a rebuild's time per event): the
    event is still decoded by the store's mapper, upcasters included, and its fields are
    turned into JSON types by the same serializer the record's dump uses."""
    event = decode(notification)
    originator = notification.originator_id  # a UUID from both stores; parsed if not
    return Fact(
        type=notification.topic.removeprefix("chainon:"),
        aggregate_id=str(originator if isinstance(originator, UUID) else UUID(str(originator))),
        aggregate_version=notification.originator_version,
        position=notification.id,
        timestamp=event.timestamp,  # type: ignore[attr-defined]
        data=to_jsonable_python(event_data(event)),
    )
