"""How a campaign's message moves between buckets, read the same way by ``campaign_stats``
(a campaign's progress) and the analytics' campaign figures (per day): a campaign's days
summed must give its progress, so both count the same moves from the same table.

A message is counted in the bucket it is in now: held (queued, deferred, blocked; a deferred
one released moves to queued), then delivered or failed only from queued or sent. Replies
and opt-outs count in conversations a campaign's message went to.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainon.projections.projection import Fact

HELD = {
    "Conversation.MessageQueued": "queued",
    "Conversation.MessageDeferred": "deferred",
    "Conversation.MessageBlocked": "blocked",
}
AFTER = {
    "Conversation.MessageSent": ("sent", ("queued",)),
    "Conversation.MessageDelivered": ("delivered", ("queued", "sent")),
    "Conversation.MessageFailed": ("failed", ("queued", "sent")),
    "Conversation.MessageExpired": ("failed", ("queued", "sent")),
    "Conversation.ReceiptOverdue": ("failed", ("queued", "sent")),  # no receipt in time
}
_OPT_OUTS = frozenset({"opt_out", "opt_out_all"})
FACTS = frozenset(
    {*HELD, *AFTER, "Conversation.MessageReceived", "Conversation.ConsentRequestRead"}
)


@dataclass(frozen=True)
class Held:
    """A message enters a bucket it may leave again (queued after deferred)."""

    bucket: str


@dataclass(frozen=True)
class Moved:
    """A message moves to ``bucket``, if it is in one of ``before``."""

    bucket: str
    before: tuple[str, ...]


@dataclass(frozen=True)
class Answered:
    """The conversation's consumer answered (``replies``) or opted out (``opt_outs``)."""

    bucket: str


def move_of(fact: Fact) -> Held | Moved | Answered | None:
    """What ``fact`` (one of ``FACTS``) does to a campaign's counts; None: nothing."""
    if fact.type in HELD:
        return Held(HELD[fact.type])
    if fact.type in AFTER:
        return Moved(*AFTER[fact.type])
    if fact.type == "Conversation.MessageReceived":
        return Answered("replies")
    if fact.data["request"] in _OPT_OUTS:
        return Answered("opt_outs")
    return None
