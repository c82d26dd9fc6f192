"""The part of the conversation aggregate that follows an outbound message after it left.

The provider's acceptance, its receipts (one per segment of a long SMS), the consumer
opening it, and a receipt that never came.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import conversation_events as events
from chainon.domain.conversation_state import ConversationState
from chainon.domain.errors import InvalidInput
from chainon.domain.message import FallbackState, awaits_receipt
from chainon.domain.message_status import MessageStatus


class Deliveries(ConversationState, Aggregate):
    Event = events.Event
    MessageSent = events.MessageSent
    SegmentDelivered = events.SegmentDelivered
    MessageDelivered = events.MessageDelivered
    MessageRead = events.MessageRead
    MessageFailed = events.MessageFailed
    MessageExpired = events.MessageExpired
    ReceiptOverdue = events.ReceiptOverdue

    def mark_sent(
        self,
        message_id: UUID,
        *,
        provider: str,
        provider_message_id: str,
        at: datetime,
        segment_ids: list[str] | None = None,
        receipt_deadline: datetime | None = None,
    ) -> bool:
        """Records the provider's acceptance; False when the status is already past it.

        ``receipt_deadline``: without a receipt by then, the message is given up as
        expired (a channel without receipts keeps none: sent is its final word)."""
        message = self._outbound(message_id)
        # A send recorded after the message was revoked (the revocation's answer overtook
        # it on the bus) still records the provider's ids, so its receipts find it.
        late = message.status is MessageStatus.REVOKED and message.provider_message_id is None
        if not message.status.can_become(MessageStatus.SENT) and not late:
            return False
        if late or not awaits_receipt(message.channel):
            receipt_deadline = None
        self._sent(
            message_id=message_id,
            provider=provider,
            provider_message_id=provider_message_id,
            segment_ids=list(dict.fromkeys(segment_ids or [provider_message_id])),
            receipt_deadline=receipt_deadline,
            timestamp=at,
        )
        return True

    @event(MessageSent)
    def _sent(
        self,
        message_id: UUID,
        provider: str,
        provider_message_id: str,
        segment_ids: list[str],
        receipt_deadline: datetime | None,
        timestamp: datetime,
    ) -> None:
        message = self.messages[message_id]
        message.provider = provider
        message.provider_message_id = provider_message_id
        message.pending_segments = list(segment_ids)
        message.receipt_deadline = receipt_deadline
        if message.status.can_become(MessageStatus.SENT):  # never back from REVOKED
            self._set_status(message, MessageStatus.SENT, timestamp)

    def record_outcome(
        self,
        message_id: UUID,
        status: MessageStatus,
        *,
        at: datetime,
        reason: str = "",
        segment_id: str | None = None,
    ) -> bool:
        """Applies a delivery receipt; False when it would move the status back or sideways.

        A receipt for one segment of a long SMS delivers that segment; the message is
        delivered with its last segment, and failed or expired with its first bad one.
        """
        message = self._outbound(message_id)
        if not message.status.can_become(status):
            return False
        if status is MessageStatus.DELIVERED and segment_id is not None:
            if segment_id not in message.pending_segments:
                return False  # a duplicate receipt, or one for a part already counted
            if len(message.pending_segments) > 1:
                self._segment_delivered(message_id=message_id, segment_id=segment_id, timestamp=at)
                return True
        if status is MessageStatus.DELIVERED:
            self._delivered(message_id=message_id, timestamp=at)
        elif status is MessageStatus.FAILED:
            self._failed(message_id=message_id, reason=reason or "unknown", timestamp=at)
        elif status is MessageStatus.EXPIRED:
            self._expired(message_id=message_id, timestamp=at)
        else:
            raise InvalidInput(f"{status.value} is not a delivery outcome", field="status")
        return True

    # A sent message whose receipt never comes (the SMSC lost it, the dispatcher died
    # with it) must not stay ``sent`` forever: its deadline came with ``MessageSent``.

    def receipt_overdue(self, message_id: UUID, *, at: datetime) -> bool:
        """The deadline passed: a message still only ``sent`` becomes expired; False
        when a receipt came, or the deadline is not yet due (clocks apart)."""
        message = self._outbound(message_id)
        deadline = message.receipt_deadline
        if deadline is None or at < deadline or message.status is not MessageStatus.SENT:
            return False
        reason = f"no delivery receipt by {deadline.isoformat(timespec='seconds')}"
        self._receipt_overdue(message_id=message_id, reason=reason, timestamp=at)
        return True

    @event(ReceiptOverdue)
    def _receipt_overdue(self, message_id: UUID, reason: str, timestamp: datetime) -> None:
        message = self.messages[message_id]
        message.reason = reason
        self._set_status(message, MessageStatus.EXPIRED, timestamp)

    def mark_read(self, message_id: UUID, *, at: datetime) -> bool:
        """Records that the consumer opened the message; False if it was already."""
        if self._outbound(message_id).read_at is not None:
            return False
        self._read(message_id=message_id, timestamp=at)
        return True

    @event(MessageRead)
    def _read(self, message_id: UUID, timestamp: datetime) -> None:
        self.messages[message_id].read_at = timestamp

    @event(SegmentDelivered)
    def _segment_delivered(self, message_id: UUID, segment_id: str, timestamp: datetime) -> None:
        self.messages[message_id].pending_segments.remove(segment_id)

    @event(MessageDelivered)
    def _delivered(self, message_id: UUID, timestamp: datetime) -> None:
        message = self.messages[message_id]
        message.pending_segments = []
        self._set_status(message, MessageStatus.DELIVERED, timestamp)
        if message.fallback is not None and message.fallback.state in (
            FallbackState.PLANNED,
            FallbackState.REVOKING,
        ):
            message.fallback.state = FallbackState.SETTLED

    @event(MessageFailed)
    def _failed(self, message_id: UUID, reason: str, timestamp: datetime) -> None:
        message = self.messages[message_id]
        message.reason = reason
        self._set_status(message, MessageStatus.FAILED, timestamp)

    @event(MessageExpired)
    def _expired(self, message_id: UUID, timestamp: datetime) -> None:
        self._set_status(self.messages[message_id], MessageStatus.EXPIRED, timestamp)
