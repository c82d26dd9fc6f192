"""The conversation aggregate: every message between a brand and a contact, on any channel.

Command methods decide and refuse with a reason; the ``@event`` methods only apply state,
because they run again on every replay.

Its events, with their versions and upcasters, are in ``conversation_events``; the class
body names each one, so ``Conversation.MessageReceived`` stays the name the rest of the code
and eventsourcing use. The methods cannot leave the class body: eventsourcing reads an
aggregate's ``@event`` methods from it, and an aggregate split over base aggregates gets every
inherited event class redefined. The decisions that are not the aggregate's own state changes
live apart (``conversation_rules`` for what its state decides read-only, ``routing``,
``channel_choice``, ``choices``, ``early_receipt``, ``agent_desk``, ``held_messages``), and
so do the values its state holds (``message``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import conversation_events as events
from chainon.domain.attachments import Attachment
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.conversation_rules import may_fall_back, revocation_due, revoking
from chainon.domain.errors import InvalidInput, NotFound, TransitionRefused
from chainon.domain.held_messages import held_message, refuse_if_recorded
from chainon.domain.message import (
    Fallback,
    FallbackReason,
    FallbackState,
    Hold,
    Message,
    Outgoing,
    awaits_receipt,
)
from chainon.domain.message_status import Direction, MessageStatus

# The message values lived here before ``domain.message``: imports of them from here stay.
__all__ = [
    "MAX_PRIORITY",
    "MAX_TAG_LENGTH",
    "Conversation",
    "Fallback",
    "FallbackReason",
    "FallbackState",
    "Hold",
    "Message",
    "Outgoing",
    "awaits_receipt",
    "normalise_tag",
]

MAX_TAG_LENGTH = 64
MAX_PRIORITY = 3


class Conversation(Aggregate):
    TOPIC = "chainon:Conversation"

    Event = events.Event
    Created = events.Created
    Opened = events.Opened
    MessageReceived = events.MessageReceived
    MessageQueued = events.MessageQueued
    MessageDeferred = events.MessageDeferred
    MessageBlocked = events.MessageBlocked
    ReplyAuthored = events.ReplyAuthored
    ConsentRequestRead = events.ConsentRequestRead
    FallbackPlanned = events.FallbackPlanned
    RevocationRequested = events.RevocationRequested
    MessageRevoked = events.MessageRevoked
    RevocationFailed = events.RevocationFailed
    SuggestionChosen = events.SuggestionChosen
    FallbackTriggered = events.FallbackTriggered
    MessageSent = events.MessageSent
    SegmentDelivered = events.SegmentDelivered
    MessageDelivered = events.MessageDelivered
    MessageRead = events.MessageRead
    MessageFailed = events.MessageFailed
    MessageExpired = events.MessageExpired
    ReceiptOverdue = events.ReceiptOverdue
    Assigned = events.Assigned
    Prioritized = events.Prioritized
    Tagged = events.Tagged
    Untagged = events.Untagged
    Resolved = events.Resolved
    Reopened = events.Reopened

    @event(Opened)
    def __init__(self, brand_id: UUID, contact_id: UUID, number: int) -> None:
        self.brand_id = brand_id
        self.contact_id = contact_id
        self.number = number
        self.resolved = False
        self.agent: str | None = None
        self.team: str | None = None
        self.tags: list[str] = []
        self.priority = 0
        self.claimed = False
        self.messages: dict[UUID, Message] = {}
        self.last_activity_at: datetime = self.created_on
        self.choices: dict[UUID, tuple[str, str]] = {}  # inbound message → (postback, text)
        self.possible_opt_out: str | None = None  # the detector's rule, when it was unsure
        # Kept as messages are added, so that no decision scans a long conversation:
        # ``order`` is every message id as first recorded (a page is a slice of it).
        self.order: list[UUID] = []
        self.last_inbound_id: UUID | None = None
        self.last_outbound_id: UUID | None = None
        self.contact_wrote_at: datetime | None = None  # a person, not an auto-reply

    @classmethod
    def open(
        cls, conversation_id: UUID, brand_id: UUID, contact_id: UUID, number: int, *, at: datetime
    ) -> Conversation:
        return cls._create(
            cls.Opened,
            id=conversation_id,
            timestamp=at,
            brand_id=brand_id,
            contact_id=contact_id,
            number=number,
        )

    # Messages

    def receive(
        self,
        *,
        message_id: UUID,
        channel: Channel,
        sender: str,
        recipient: str,
        body: str,
        provider: str,
        provider_message_id: str,
        at: datetime,
        request_id: str | None = None,
        subject: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        automatic: bool = False,
    ) -> bool:
        """Records an inbound message; False when it was recorded already (a retry).

        An automatic one (an out-of-office) does not reopen a resolved conversation: it
        asks nobody for an answer.
        """
        if message_id in self.messages:
            return False
        if self.resolved and not automatic:
            self._reopened(reason="inbound message", timestamp=at)
        self._received(
            message_id=message_id,
            channel=channel.value,
            sender=sender,
            recipient=recipient,
            body=body,
            provider=provider,
            provider_message_id=provider_message_id,
            request_id=request_id,
            subject=subject,
            attachments=[a.model_dump() for a in attachments],
            automatic=automatic,
            timestamp=at,
        )
        return True

    @event(MessageReceived)
    def _received(
        self,
        message_id: UUID,
        channel: str,
        sender: str,
        recipient: str,
        body: str,
        provider: str,
        provider_message_id: str,
        request_id: str | None,
        subject: str | None,
        attachments: list[dict[str, object]],
        automatic: bool,
        timestamp: datetime,
    ) -> None:
        self.messages[message_id] = Message(
            id=message_id,
            direction=Direction.INBOUND,
            channel=Channel(channel),
            sender=sender,
            recipient=recipient,
            body=body,
            status=MessageStatus.RECEIVED,
            at=timestamp,
            provider=provider,
            provider_message_id=provider_message_id,
            history=[(MessageStatus.RECEIVED, timestamp)],
            subject=subject,
            attachments=tuple(Attachment.model_validate(a) for a in attachments),
            automatic=automatic,
        )
        self._added(message_id, new=True)
        self.last_activity_at = timestamp

    def queue(
        self,
        *,
        message_id: UUID,
        channel: Channel,
        sender: str,
        recipient: str,
        body: str,
        encoding: str | None,
        segments: int,
        replaced: tuple[str, ...],
        at: datetime,
        reopen: bool = False,
        request_id: str | None = None,
        rich: dict[str, object] | None = None,
        fallback_of: UUID | None = None,
        capability_known: bool = False,
        purpose: Purpose = Purpose.SERVICE,
        campaign_id: UUID | None = None,
    ) -> None:
        """Records an outbound message on its way; a deferred one, at its release."""
        refuse_if_recorded(self.messages, message_id)
        if self.resolved:
            if not reopen:
                raise TransitionRefused("the conversation is resolved; reopen it first")
            self._reopened(reason="outbound message", timestamp=at)
        self._queued(
            message_id=message_id,
            channel=channel.value,
            sender=sender,
            recipient=recipient,
            body=body,
            encoding=encoding,
            segments=segments,
            replaced=list(replaced),
            request_id=request_id,
            rich=rich,
            fallback_of=fallback_of,
            capability_known=capability_known,
            purpose=purpose.value,
            campaign_id=campaign_id,
            timestamp=at,
        )

    @event(MessageQueued)
    def _queued(
        self,
        message_id: UUID,
        channel: str,
        sender: str,
        recipient: str,
        body: str,
        encoding: str | None,
        segments: int,
        replaced: list[str],
        request_id: str | None,
        rich: dict[str, object] | None,
        fallback_of: UUID | None,
        capability_known: bool,
        purpose: str,
        campaign_id: UUID | None,
        timestamp: datetime,
    ) -> None:
        held = self.messages.get(message_id)
        self.messages[message_id] = Message(
            id=message_id,
            direction=Direction.OUTBOUND,
            channel=Channel(channel),
            sender=sender,
            recipient=recipient,
            body=body,
            status=MessageStatus.QUEUED,
            at=timestamp,
            segments=segments,
            encoding=encoding,
            replaced=tuple(replaced),
            history=[*(held.history if held else []), (MessageStatus.QUEUED, timestamp)],
            rich=rich,
            fallback_of=fallback_of,
            purpose=Purpose(purpose),
            campaign_id=campaign_id,
        )
        self._added(message_id, new=held is None)
        self.last_activity_at = timestamp

    # The send policy's other answers: held for quiet hours, or blocked with its reason.

    def defer(self, content: Outgoing, hold: Hold, *, at: datetime) -> None:
        refuse_if_recorded(self.messages, content.message_id)
        self._deferred(
            **content.fields(),
            release_at=hold.release_at,
            not_after=hold.not_after,
            fallback_after_seconds=hold.fallback_after_seconds,
            timestamp=at,
        )

    @event(MessageDeferred)
    def _deferred(
        self,
        message_id: UUID,
        channel: str,
        sender: str,
        recipient: str,
        body: str,
        encoding: str | None,
        segments: int,
        replaced: list[str],
        request_id: str | None,
        rich: dict[str, object] | None,
        purpose: str,
        release_at: datetime,
        not_after: datetime | None,
        fallback_after_seconds: int | None,
        timestamp: datetime,
        campaign_id: UUID | None = None,
    ) -> None:
        content = Outgoing.recorded(locals())
        new = message_id not in self.messages
        message = held_message(self.messages, content, MessageStatus.DEFERRED, timestamp)
        message.hold = Hold(release_at, not_after, fallback_after_seconds)
        self.messages[message_id] = message
        self._added(message_id, new=new)

    def block(self, content: Outgoing, reason: str, *, at: datetime) -> None:
        refuse_if_recorded(self.messages, content.message_id)
        self._blocked(**content.fields(), reason=reason, timestamp=at)

    @event(MessageBlocked)
    def _blocked(
        self,
        message_id: UUID,
        channel: str,
        sender: str,
        recipient: str,
        body: str,
        encoding: str | None,
        segments: int,
        replaced: list[str],
        request_id: str | None,
        rich: dict[str, object] | None,
        purpose: str,
        reason: str,
        timestamp: datetime,
        campaign_id: UUID | None = None,
    ) -> None:
        content = Outgoing.recorded(locals())
        new = message_id not in self.messages
        message = held_message(self.messages, content, MessageStatus.BLOCKED, timestamp)
        message.reason = reason
        self.messages[message_id] = message
        self._added(message_id, new=new)

    def _added(self, message_id: UUID, *, new: bool) -> None:
        """Keeps the marks decisions read instead of scanning every message; a held
        message sent later keeps its place."""
        message = self.messages[message_id]
        if new:
            self.order.append(message_id)
            if message.direction is Direction.OUTBOUND:
                self.last_outbound_id = message_id
            else:
                self.last_inbound_id = message_id
        if message.direction is Direction.INBOUND and not message.automatic:
            self.contact_wrote_at = message.at

    def consent_request_read(
        self, message_id: UUID, request: str, rule: str, *, certain: bool, at: datetime
    ) -> None:
        self.message(message_id)  # an inbound message of this conversation
        self._consent_request_read(
            message_id=message_id, request=request, rule=rule, certain=certain, timestamp=at
        )

    @event(ConsentRequestRead)
    def _consent_request_read(
        self, message_id: UUID, request: str, rule: str, certain: bool, timestamp: datetime
    ) -> None:
        if not certain:
            self.possible_opt_out = rule

    # Fallback (RCS → SMS). The rules that keep it to one replacement, whatever the order
    # in which the deadline, the receipts and the revocation's answer arrive:
    # - a replacement is queued only from PLANNED (not capable, failed) or REVOKING
    #   (revoked), and the state becomes TRIGGERED in the same transaction;
    # - a DELIVERED receipt before that settles the plan; one after it is recorded as a
    #   delivery and changes nothing else.

    def credit(self, message_id: UUID, author: str, *, at: datetime) -> None:
        """Names the agent who wrote an outbound message of this conversation."""
        if message_id in self.messages:
            self._authored(message_id=message_id, author=author, timestamp=at)

    @event(ReplyAuthored)
    def _authored(self, message_id: UUID, author: str, timestamp: datetime) -> None:
        self.messages[message_id].author = author

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

    def choose(
        self,
        message_id: UUID,
        *,
        in_reply_to: UUID | None,
        postback_data: str,
        text: str,
        at: datetime,
    ) -> None:
        self._chosen(
            message_id=message_id,
            in_reply_to=in_reply_to,
            postback_data=postback_data,
            text=text,
            timestamp=at,
        )

    @event(SuggestionChosen)
    def _chosen(
        self,
        message_id: UUID,
        in_reply_to: UUID | None,
        postback_data: str,
        text: str,
        timestamp: datetime,
    ) -> None:
        self.choices[message_id] = (postback_data, text)

    def message(self, message_id: UUID) -> Message:
        try:
            return self.messages[message_id]
        except KeyError:
            raise NotFound(f"no message {message_id} in this conversation") from None

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

    @staticmethod
    def _set_status(message: Message, status: MessageStatus, at: datetime) -> None:
        message.status = status
        message.history.append((status, at))

    def _outbound(self, message_id: UUID) -> Message:
        message = self.message(message_id)
        if message.direction is not Direction.OUTBOUND:
            raise TransitionRefused(f"message {message_id} is inbound; it has no delivery status")
        return message

    # Handling

    def assign(self, *, agent: str | None, team: str | None, at: datetime) -> bool:
        """Assigns to an agent and/or a team (None clears); False when nothing changes."""
        for name, value in (("agent", agent), ("team", team)):
            if value is not None and not value.strip():
                raise InvalidInput("must not be blank", field=name)
        if (agent, team) == (self.agent, self.team):
            return False
        self._assigned(agent=agent, team=team, how="assigned", timestamp=at)
        return True

    @event(Assigned)
    def _assigned(self, agent: str | None, team: str | None, how: str, timestamp: datetime) -> None:
        self.agent = agent
        self.team = team
        self.claimed = how == "claimed"

    def claim(self, agent: str, *, at: datetime) -> None:
        """An agent takes the conversation from the queue; refused if someone has it.

        Two agents claiming at once both load the same version; the store lets one
        commit, and the other, retrying, finds it taken.
        """
        if self.resolved:
            raise TransitionRefused("the conversation is resolved")
        if self.agent is not None and self.agent != agent:
            raise TransitionRefused(f"the conversation is already with {self.agent}")
        if self.agent != agent:
            self._assigned(agent=agent, team=self.team, how="claimed", timestamp=at)

    def prioritize(self, priority: int, *, at: datetime) -> bool:
        if not 0 <= priority <= MAX_PRIORITY:
            raise InvalidInput(f"must be 0 (normal) to {MAX_PRIORITY} (urgent)", field="priority")
        if priority == self.priority:
            return False
        self._prioritized(priority=priority, timestamp=at)
        return True

    @event(Prioritized)
    def _prioritized(self, priority: int, timestamp: datetime) -> None:
        self.priority = priority

    def tag(self, tag: str, *, at: datetime) -> bool:
        tag = normalise_tag(tag)
        if tag in self.tags:
            return False
        self._tagged(tag=tag, timestamp=at)
        return True

    @event(Tagged)
    def _tagged(self, tag: str, timestamp: datetime) -> None:
        self.tags.append(tag)

    def untag(self, tag: str, *, at: datetime) -> bool:
        tag = normalise_tag(tag)
        if tag not in self.tags:
            return False
        self._untagged(tag=tag, timestamp=at)
        return True

    @event(Untagged)
    def _untagged(self, tag: str, timestamp: datetime) -> None:
        self.tags.remove(tag)

    def resolve(self, *, by: str, at: datetime) -> None:
        if self.resolved:
            raise TransitionRefused("the conversation is already resolved")
        self._resolved(by=by, timestamp=at)

    @event(Resolved)
    def _resolved(self, by: str, timestamp: datetime) -> None:
        self.resolved = True
        self.last_activity_at = timestamp

    def reopen(self, *, reason: str, at: datetime) -> None:
        if not self.resolved:
            raise TransitionRefused("the conversation is open; only a resolved one can reopen")
        self._reopened(reason=reason, timestamp=at)

    @event(Reopened)
    def _reopened(self, reason: str, timestamp: datetime) -> None:
        self.resolved = False
        self.last_activity_at = timestamp


def normalise_tag(tag: str) -> str:
    cleaned = " ".join(tag.strip().lower().split())
    if not cleaned:
        raise InvalidInput("must not be empty", field="tag")
    if len(cleaned) > MAX_TAG_LENGTH:
        raise InvalidInput(f"must be at most {MAX_TAG_LENGTH} characters", field="tag")
    return cleaned
