"""What a conversation's state decides, read without changing it.

Plain functions over a ``Conversation`` or one of its messages, apart from the aggregate
whose modules are its commands, its events and their appliers (the way ``routing``,
``channel_choice`` and ``held_messages`` are): which conversation a new message belongs
in, whether the contact wrote lately, whose desk counts the conversation, which offer an
answer refers to, and when an RCS message's fallback is due.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chainon.domain.message import FallbackReason, FallbackState, Message
from chainon.domain.message_status import MessageStatus

if TYPE_CHECKING:  # the aggregate asks the fallback rules: no import cycle at run time
    from chainon.domain.conversation import Conversation


def takes_new_message(
    conversation: Conversation, *, at: datetime, reopen_window: timedelta
) -> bool:
    """Whether a new message belongs here, or in a new conversation.

    An open conversation takes it; a resolved one takes it (and reopens) if it was
    last active within the brand's reopen window; otherwise a new one is opened.
    """
    return not conversation.resolved or at - conversation.last_activity_at <= reopen_window


def contact_wrote_since(conversation: Conversation, since: datetime) -> bool:
    """Whether a person (not an auto-reply) wrote here at or after ``since``: what makes
    a brand's message conversational rather than a new send."""
    wrote_at = conversation.contact_wrote_at
    return wrote_at is not None and wrote_at >= since


def desk_holder(conversation: Conversation) -> str | None:
    """The agent whose desk counts this conversation: its agent, while it is open."""
    return None if conversation.resolved else conversation.agent


def last_outbound(conversation: Conversation) -> Message | None:
    last = conversation.last_outbound_id
    return None if last is None else conversation.messages[last]


def last_inbound(conversation: Conversation) -> Message | None:
    last = conversation.last_inbound_id
    return None if last is None else conversation.messages[last]


def last_offer(conversation: Conversation) -> Message | None:
    """The rich message whose suggestions an answer now refers to: the latest outbound
    message if it is rich, or the SMS that replaced a rich one (which showed the same
    choices, numbered). A plain message sent since ends the offer."""
    message = last_outbound(conversation)
    if message is None:
        return None
    messages = conversation.messages
    source = messages.get(message.fallback_of) if message.fallback_of else message
    return source if source is not None and source.rich else None


# Fallback (RCS → SMS), for one outbound message.


def revocation_due(message: Message, *, at: datetime, now: bool = False) -> bool:
    """Whether the fallback's deadline passed (or an operator said ``now``) with the plan
    still waiting: the message is then revoked before its replacement is sent. False when
    there is nothing to do (delivered, failed, already revoking or replaced, not yet due)."""
    plan = message.fallback
    if plan is None or plan.state is not FallbackState.PLANNED:
        return False
    if at < plan.deadline and not now:
        return False
    return not message.status.is_final


def revoking(message: Message) -> bool:
    """Whether the message's revocation was asked and its answer is still awaited."""
    return message.fallback is not None and message.fallback.state is FallbackState.REVOKING


def may_fall_back(message: Message, reason: FallbackReason) -> bool:
    """Whether a replacement is due now for this reason: after its revocation for the
    deadline, after a failure (or an expiry) while the plan waits for any other."""
    plan = message.fallback
    if plan is None:
        return False
    if reason is FallbackReason.DEADLINE:
        return plan.state is FallbackState.REVOKING and message.status is MessageStatus.REVOKED
    return plan.state is FallbackState.PLANNED and message.status in (
        MessageStatus.FAILED,
        MessageStatus.EXPIRED,
    )
