"""A conversation's messages and what the aggregate keeps about them: plain values the
``Conversation`` holds in its state (never stored as such: its events carry their fields),
apart from the aggregate so that its module is its events and their rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from chainon.domain.attachments import Attachment
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.message_status import Direction, MessageStatus


@dataclass(slots=True)  # a conversation holds thousands: no instance dict each
class Message:
    id: UUID
    direction: Direction
    channel: Channel
    sender: str
    recipient: str
    body: str
    status: MessageStatus
    at: datetime
    segments: int = 1
    encoding: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    pending_segments: list[str] = field(default_factory=list)  # provider ids not yet delivered
    replaced: tuple[str, ...] = ()  # characters smart encoding replaced
    history: list[tuple[MessageStatus, datetime]] = field(default_factory=list)
    rich: dict[str, object] | None = None  # RichContent as JSON, for RCS
    fallback_of: UUID | None = None  # the RCS message this one replaces
    fallback: Fallback | None = None  # the plan, while this RCS message may fall back
    read_at: datetime | None = None  # RCS: when the consumer opened it (RBM's READ)
    subject: str | None = None  # an inbound email's
    attachments: tuple[Attachment, ...] = ()  # inbound: what came with it, described
    automatic: bool = False  # inbound: sent by a machine (an out-of-office), not a person
    receipt_deadline: datetime | None = None  # sent: expired unless a receipt comes by then
    purpose: Purpose | None = None  # outbound: why it is sent (consent and quiet hours ask)
    campaign_id: UUID | None = None  # outbound: the campaign that sent it
    hold: Hold | None = None  # outbound, deferred by quiet hours: when it may go
    author: str | None = None  # outbound: the agent who wrote it, when an agent did
    # Its content left the state in memory (``conversation_memory``): replay to read it.
    compacted: bool = False


@dataclass
class Hold:
    """A message quiet hours hold: released (and the policy asked again) at ``release_at``,
    blocked instead when that falls after ``not_after``."""

    release_at: datetime
    not_after: datetime | None = None
    fallback_after_seconds: int | None = None  # the send's own RCS deadline, kept for then


@dataclass(frozen=True)
class Outgoing:
    """What a deferred or blocked message says, as its event records it."""

    message_id: UUID
    channel: Channel
    sender: str
    recipient: str
    body: str
    encoding: str | None
    segments: int
    replaced: tuple[str, ...]
    purpose: Purpose
    request_id: str | None = None
    rich: dict[str, object] | None = None
    campaign_id: UUID | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "channel": self.channel.value,
            "sender": self.sender,
            "recipient": self.recipient,
            "body": self.body,
            "encoding": self.encoding,
            "segments": self.segments,
            "replaced": list(self.replaced),
            "request_id": self.request_id,
            "rich": self.rich,
            "purpose": self.purpose.value,
            "campaign_id": self.campaign_id,
        }

    @classmethod
    def recorded(cls, event: Mapping[str, Any]) -> Outgoing:
        """Read back from what ``fields`` recorded: an applier passes its ``locals()``,
        since eventsourcing hands it the event's fields as parameters of those names."""
        return cls(
            message_id=event["message_id"],
            channel=Channel(event["channel"]),
            sender=event["sender"],
            recipient=event["recipient"],
            body=event["body"],
            encoding=event["encoding"],
            segments=event["segments"],
            replaced=tuple(event["replaced"]),
            purpose=Purpose(event["purpose"]),
            request_id=event["request_id"],
            rich=event["rich"],
            campaign_id=event["campaign_id"],
        )


class FallbackState(StrEnum):
    PLANNED = "planned"  # waiting for DELIVERED before the deadline
    REVOKING = "revoking"  # the deadline passed; revocation asked of the provider
    TRIGGERED = "triggered"  # the replacement was queued: never again
    SETTLED = "settled"  # delivered, or the revocation failed: no replacement


class FallbackReason(StrEnum):
    NOT_CAPABLE = "not_capable"
    FAILED = "failed"
    DEADLINE = "deadline"


@dataclass
class Fallback:
    channel: Channel
    deadline: datetime
    state: FallbackState = FallbackState.PLANNED
    reason: FallbackReason | None = None
    replacement_id: UUID | None = None


def awaits_receipt(channel: Channel) -> bool:
    """Whether a sent message on ``channel`` is followed by a delivery receipt. Email has
    none (a bounce, when one comes, fails it): sent is its final word."""
    return channel is not Channel.EMAIL
