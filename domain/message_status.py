"""Delivery status of a message, which only ever moves forward."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    RECEIVED = "received"  # inbound messages
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self.rank >= _RANK[MessageStatus.DELIVERED]

    def can_become(self, new: MessageStatus) -> bool:
        """Forward only: a late, duplicate or out-of-order receipt changes nothing."""
        return new.rank > self.rank and not self.is_final


_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.EXPIRED: 2,
}
