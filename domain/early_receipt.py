"""Delivery receipts that arrived before the send they belong to.

An SMSC may send a receipt before its ``submit_sm_resp``, and on the bus a receipt can
overtake its ``RecordSent`` (the dispatch worker publishes the send result after the
provider answered; the receipt is published the moment it arrives). Retrying the receipt
in place cannot work when its ``RecordSent`` waits behind it in the same partition, so
the receipt is kept here, durably, and applied when the send is recorded. One that is
never matched stays on record, for the operator to see, instead of being dropped.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus


class EarlyReceipt(Aggregate):
    TOPIC = "chainon:EarlyReceipt"

    class Event(Aggregate.Event):
        TOPIC = "chainon:EarlyReceipt.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:EarlyReceipt.Created"

    class ReceiptKept(Created):
        TOPIC = "chainon:EarlyReceipt.ReceiptKept"
        provider: str
        provider_message_id: str
        status: str
        reason: str

    class ReceiptKeptAgain(Event):
        """Another receipt for the same id (a later state, or a duplicate)."""

        TOPIC = "chainon:EarlyReceipt.ReceiptKeptAgain"
        status: str
        reason: str

    class ReadKept(Event):
        """The receipt also said the consumer read the message (RCS)."""

        TOPIC = "chainon:EarlyReceipt.ReadKept"

    class ReceiptMatched(Event):
        TOPIC = "chainon:EarlyReceipt.ReceiptMatched"
        conversation_id: UUID
        message_id: UUID

    @event(ReceiptKept)
    def __init__(self, provider: str, provider_message_id: str, status: str, reason: str) -> None:
        self.provider = provider
        self.provider_message_id = provider_message_id
        self.outcomes: list[tuple[MessageStatus, str]] = [(MessageStatus(status), reason)]
        self.matched_message_id: UUID | None = None
        self.read = False

    @classmethod
    def keep(
        cls,
        provider: str,
        provider_message_id: str,
        status: MessageStatus,
        reason: str,
        *,
        at: datetime,
    ) -> EarlyReceipt:
        return cls._create(
            cls.ReceiptKept,
            id=ids.early_receipt_id(provider, provider_message_id),
            timestamp=at,
            provider=provider,
            provider_message_id=provider_message_id,
            status=status.value,
            reason=reason,
        )

    @property
    def matched(self) -> bool:
        return self.matched_message_id is not None

    def keep_again(self, status: MessageStatus, reason: str, *, at: datetime) -> bool:
        """Kept unless it repeats what is already kept."""
        if (status, reason) in self.outcomes or self.matched:
            return False
        self._kept_again(status=status.value, reason=reason, timestamp=at)
        return True

    @event(ReceiptKeptAgain)
    def _kept_again(self, status: str, reason: str, timestamp: datetime) -> None:
        self.outcomes.append((MessageStatus(status), reason))

    def keep_read(self, *, at: datetime) -> bool:
        """Kept unless a read was already kept (or the receipt was matched)."""
        if self.read or self.matched:
            return False
        self._read_kept(timestamp=at)
        return True

    @event(ReadKept)
    def _read_kept(self, timestamp: datetime) -> None:
        self.read = True

    def settle(
        self, conversation: Conversation, message_id: UUID, segment_id: str, *, at: datetime
    ) -> bool:
        """Applies what was kept to the message now known to own this id, once; False when
        an earlier send already took it."""
        if self.matched:
            return False
        for status, reason in self.outcomes:
            conversation.record_outcome(
                message_id, status, at=at, reason=reason, segment_id=segment_id
            )
        if self.read:
            conversation.mark_read(message_id, at=at)
        self.match(conversation.id, message_id, at=at)
        return True

    def match(self, conversation_id: UUID, message_id: UUID, *, at: datetime) -> None:
        self._matched(conversation_id=conversation_id, message_id=message_id, timestamp=at)

    @event(ReceiptMatched)
    def _matched(self, conversation_id: UUID, message_id: UUID, timestamp: datetime) -> None:
        self.matched_message_id = message_id
