"""The part of the conversation aggregate that falls back from RCS to SMS.

The rules that keep it to one replacement, whatever the order in which the deadline, the
receipts and the revocation's answer arrive:
- a replacement is queued only from PLANNED (not capable, failed) or REVOKING
  (revoked), and the state becomes TRIGGERED in the same transaction;
- a DELIVERED receipt before that settles the plan; one after it is recorded as a
  delivery and changes nothing else.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import conversation_events as events
from chainon.domain.channels import Channel
from chainon.domain.conversation_rules import may_fall_back, revocation_due, revoking
from chainon.domain.conversation_state import ConversationState
from chainon.domain.errors import TransitionRefused
from chainon.domain.message import Fallback, FallbackReason, FallbackState
from chainon.domain.message_status import MessageStatus


class Fallbacks(ConversationState, Aggregate):
    Event = events.Event
    FallbackPlanned = events.FallbackPlanned
    RevocationRequested = events.RevocationRequested
    MessageRevoked = events.MessageRevoked
    RevocationFailed = events.RevocationFailed
    FallbackTriggered = events.FallbackTriggered

    def plan_fallback(self, message_id: UUID, channel: Channel, deadline: datetime) -> None:
        message = self._outbound(message_id)
        if message.fallback is not None:
            raise TransitionRefused(f"message {message_id} already has a fallback")
        self._fallback_planned(message_id=message_id, channel=channel.value, deadline=deadline)

    @event(FallbackPlanned)
    def _fallback_planned(self, message_id: UUID, channel: str, deadline: datetime) -> None:
        self.messages[message_id].fallback = Fallback(Channel(channel), deadline)

    def fallback_due(self, message_id: UUID, *, at: datetime, now: bool = False) -> bool:
        """The deadline passed (or an operator said ``now``): asks for the revocation;
        False when there is nothing to do (delivered, failed, already revoking or
        replaced, not yet due)."""
        if not revocation_due(self._outbound(message_id), at=at, now=now):
            return False
        self._revocation_requested(message_id=message_id, timestamp=at)
        return True

    @event(RevocationRequested)
    def _revocation_requested(self, message_id: UUID, timestamp: datetime) -> None:
        plan = self.messages[message_id].fallback
        assert plan is not None
        plan.state = FallbackState.REVOKING

    def revoked(self, message_id: UUID, *, at: datetime) -> bool:
        """The provider took it back: True when a replacement is now due."""
        message = self._outbound(message_id)
        if not revoking(message):
            return False
        if message.status.is_final:  # a DELIVERED receipt won the race: nothing to replace
            return False
        self._revoked(message_id=message_id, timestamp=at)
        return True

    @event(MessageRevoked)
    def _revoked(self, message_id: UUID, timestamp: datetime) -> None:
        self._set_status(self.messages[message_id], MessageStatus.REVOKED, timestamp)

    def revocation_failed(self, message_id: UUID, reason: str, *, at: datetime) -> bool:
        if not revoking(self._outbound(message_id)):
            return False
        self._revocation_failed(message_id=message_id, reason=reason, timestamp=at)
        return True

    @event(RevocationFailed)
    def _revocation_failed(self, message_id: UUID, reason: str, timestamp: datetime) -> None:
        plan = self.messages[message_id].fallback
        assert plan is not None
        plan.state = FallbackState.SETTLED

    def fall_back(
        self,
        message_id: UUID | None,
        reason: FallbackReason,
        channel: Channel,
        replacement_id: UUID,
        *,
        at: datetime,
    ) -> None:
        """Records the switch; the caller queues the replacement in the same transaction."""
        if message_id is not None and not may_fall_back(self._outbound(message_id), reason):
            raise TransitionRefused(f"message {message_id} may not fall back ({reason.value})")
        self._fell_back(
            message_id=message_id,
            reason=reason.value,
            channel=channel.value,
            replacement_id=replacement_id,
            timestamp=at,
        )

    @event(FallbackTriggered)
    def _fell_back(
        self,
        message_id: UUID | None,
        reason: str,
        channel: str,
        replacement_id: UUID,
        timestamp: datetime,
    ) -> None:
        if message_id is None:
            return
        plan = self.messages[message_id].fallback
        assert plan is not None
        plan.state = FallbackState.TRIGGERED
        plan.reason = FallbackReason(reason)
        plan.replacement_id = replacement_id
