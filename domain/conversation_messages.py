"""The part of the conversation aggregate that records its messages, in and out.

An inbound message, an outbound one queued, held for quiet hours or blocked with the
policy's reason, and what the conversation learns about them on the way: who wrote a
reply, which suggestion a contact chose, whether the words asked to stop. The part keeps
``order`` and the last message of each direction as messages are added, so that no
decision scans a long conversation.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import conversation_events as events
from chainon.domain.attachments import Attachment
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.conversation_state import ConversationState
from chainon.domain.errors import TransitionRefused
from chainon.domain.held_messages import held_message, refuse_if_recorded
from chainon.domain.message import Hold, Message, Outgoing
from chainon.domain.message_status import Direction, MessageStatus


class MessageRecords(ConversationState, Aggregate):
    Event = events.Event
    MessageReceived = events.MessageReceived
    MessageQueued = events.MessageQueued
    MessageDeferred = events.MessageDeferred
    MessageBlocked = events.MessageBlocked
    ReplyAuthored = events.ReplyAuthored
    ConsentRequestRead = events.ConsentRequestRead
    SuggestionChosen = events.SuggestionChosen

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
            if new:
                self.written_lately.append(message_id)

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

    def credit(self, message_id: UUID, author: str, *, at: datetime) -> None:
        """Names the agent who wrote an outbound message of this conversation."""
        if message_id in self.messages:
            self._authored(message_id=message_id, author=author, timestamp=at)

    @event(ReplyAuthored)
    def _authored(self, message_id: UUID, author: str, timestamp: datetime) -> None:
        self.messages[message_id].author = author

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
