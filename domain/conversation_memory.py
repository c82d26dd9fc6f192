"""What a conversation keeps in memory of its older messages: what decisions ask of them.

A conversation lives for years and the core keeps the conversations it decides on in
memory between decisions (``chainon.decision_cache``). Held in full, a message costs
about 1.5 KB there (its text, its status history, its rich content), so a conversation
of 10,000 messages held 15 MB. Decisions read little of an old message: a late receipt,
a duplicate or a read receipt asks its status, direction, channel and ids; what it said
is read only of the messages a decision builds on (the latest ones, the consumer's
recent words a routing rule reads, the last offer, a message still waiting for
something). So once a message is older than the newest ``HELD_IN_FULL`` and has nothing
left to wait for, its content is dropped from the state in memory (``compact``) and the
record keeps what decisions read. The store still has every event: a reader that wants an
old message's text replays the conversation (``Message.compacted`` says which).

Only the decision state in memory changes: no event is written or altered, and a
conversation replayed from the store is whole again until it is compacted once more.
"""

from __future__ import annotations

import sys
from uuid import UUID

from chainon.domain.conversation import Conversation
from chainon.domain.message import FallbackState, Message
from chainon.domain.message_status import Direction, MessageStatus

HELD_IN_FULL = 100  # the newest messages kept whole (a page of the API and more)
_SETTLED_PLANS = (FallbackState.TRIGGERED, FallbackState.SETTLED)


def compact(conversation: Conversation, keep: int = HELD_IN_FULL) -> int:
    """Drops the content of the messages that aged past the newest ``keep`` and wait for
    nothing; returns how many. A call looks at the messages that aged since the last one
    and at those that were still waiting then (they are looked at again when the next
    message ages): its cost does not grow with the conversation."""
    order = conversation.order
    aged_until = max(len(order) - keep, 0)
    start, waiting = conversation.aged_until, conversation.aged_waiting
    if aged_until <= start:
        return 0
    candidates = [*waiting, *order[start:aged_until]]
    wanted = _wanted(conversation)
    dropped = 0
    still: list[UUID] = []
    for message_id in candidates:
        message = conversation.messages[message_id]
        if message_id in wanted or not settled(message):
            still.append(message_id)
            continue
        _drop_content(message)
        conversation.choices.pop(message_id, None)
        dropped += 1
    conversation.aged_until = aged_until
    conversation.aged_waiting = still
    return dropped


def settled(message: Message) -> bool:
    """Whether nothing more will be decided from what the message said: received, or sent
    with its final status, no fallback plan still running and no hold."""
    if message.direction is Direction.INBOUND:
        return message.status is MessageStatus.RECEIVED
    plan = message.fallback
    return (
        message.status.is_final
        and message.hold is None
        and not message.pending_segments
        and (plan is None or plan.state in _SETTLED_PLANS)
    )


def _wanted(conversation: Conversation) -> set[UUID]:
    """The aged messages decisions still read the text of: the last inbound and outbound
    ones (and the rich message the last outbound replaced: the offer an answer refers
    to), and the consumer's own latest words a routing rule reads back."""
    wanted: set[UUID | None] = {conversation.last_inbound_id, conversation.last_outbound_id}
    last_outbound = conversation.last_outbound_id
    if last_outbound is not None:
        wanted.add(conversation.messages[last_outbound].fallback_of)
    wanted.update(conversation.written_lately)
    return {i for i in wanted if i is not None}


def _drop_content(message: Message) -> None:
    """What it said goes; what a decision reads stays. Each message decoded from the store
    has strings of its own: the addresses and names every message of the conversation
    repeats are shared instead."""
    message.body = ""
    message.history.clear()
    message.rich = None
    message.subject = None
    message.attachments = ()
    message.replaced = ()
    message.compacted = True
    message.sender = sys.intern(message.sender)
    message.recipient = sys.intern(message.recipient)
    if message.provider is not None:
        message.provider = sys.intern(message.provider)
    if message.encoding is not None:
        message.encoding = sys.intern(message.encoding)
