"""Sends the policy did not allow now, as a conversation keeps them: deferred for quiet
hours (released, and the policy asked again, when their time comes) or blocked.

Plain functions over the conversation's messages, apart from the aggregate whose module
is its events and their appliers (the way ``routing`` and ``channel_choice`` are): which
record a send may replace, what a held message keeps of the one before it, and when it is
due for release. Whether the contact wrote lately (consent's question for a brand's
message) is in ``conversation_rules``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from chainon.domain.errors import TransitionRefused
from chainon.domain.message import Hold, Message, Outgoing
from chainon.domain.message_status import Direction, MessageStatus


def refuse_if_recorded(messages: Mapping[UUID, Message], message_id: UUID) -> None:
    """A message is recorded once; only a deferred one is recorded again (queued at its
    release, deferred anew, or blocked when the policy refuses it then)."""
    found = messages.get(message_id)
    if found is not None and found.status is not MessageStatus.DEFERRED:
        raise TransitionRefused(f"message {message_id} exists already")


def held_message(
    messages: Mapping[UUID, Message], content: Outgoing, status: MessageStatus, at: datetime
) -> Message:
    """The message a deferral or a block records; one held before keeps when it was first
    recorded and its history, so the timeline shows the wait."""
    before = messages.get(content.message_id)
    return Message(
        id=content.message_id,
        direction=Direction.OUTBOUND,
        channel=content.channel,
        sender=content.sender,
        recipient=content.recipient,
        body=content.body,
        status=status,
        at=before.at if before else at,
        segments=content.segments,
        encoding=content.encoding,
        replaced=content.replaced,
        history=[*(before.history if before else []), (status, at)],
        rich=content.rich,
        purpose=content.purpose,
        campaign_id=content.campaign_id,
    )


def due_for_release(message: Message, now: datetime) -> Hold | None:
    """The hold of a deferred message whose release time came; None when it was released
    already, blocked, or handed on early (clocks apart: it comes again)."""
    hold = message.hold
    if message.status is not MessageStatus.DEFERRED or hold is None or now < hold.release_at:
        return None
    return hold
