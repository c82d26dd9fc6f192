"""Delivery status of a message, which only ever moves forward."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    RECEIVED = "received"  # inbound messages
    DEFERRED = "deferred"  # held by quiet hours until its release time, then asked again
    QUEUED = "queued"
    SENT = "sent"
    REVOKED = "revoked"  # taken back from the RCS provider before delivery (then fallback)
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    BLOCKED = "blocked"  # the send policy said no (its reason on the message): never sent

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self.rank >= _RANK[MessageStatus.DELIVERED]

    def can_become(self, new: MessageStatus) -> bool:
        """Forward only: a late, duplicate or out-of-order receipt changes nothing."""
        return new.rank > self.rank and not self.is_final


# REVOKED is not final: RBM may still report a delivery that raced the revocation, and
# that receipt is recorded as it is (the message was delivered after all).
_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.DEFERRED: 0,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.REVOKED: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.EXPIRED: 3,
    MessageStatus.BLOCKED: 3,
}
