"""One conversation read a page at a time: its messages and its timeline, newest first.

A conversation lives for years; answering with its whole history cost the replay of
every event (2.5 MB in half a second at 3,000 messages). A page costs its own size
instead: the messages come from the decision cache's instance (``Core.read``), as plain
API values built while no decision runs, sliced by the order the aggregate keeps (a page
older than the newest messages that instance holds whole is read from a replay); the
timeline is read from the store by version, up to the version those messages reflect,
so that both halves of one page describe the same moment.

The cursor carries both marks: where the messages stopped (their position in the
conversation) and where the timeline stopped (an event's version). Either half may end
before the other: its list is then empty on the following pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from chainon.api.cursors import decode, encode
from chainon.api.schemas import ConversationOut, MessageOut, TimelineEntry
from chainon.core import Core
from chainon.domain import ids
from chainon.domain.bot import Bot
from chainon.domain.conversation import Conversation
from chainon.domain.errors import InvalidInput
from chainon.handlers.loading import conversation_of

_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic"}
_KIND = {"newest": "mn", "oldest": "mo"}


class Order(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True)
class Mark:
    """Where a page ended: the next message's bound, and the timeline's last version."""

    messages: int
    version: int


@dataclass(frozen=True)
class Page:
    conversation: ConversationOut
    mark: Mark | None  # None on the last page


def cursor_of(order: Order, mark: Mark) -> str:
    return encode(_KIND[order], mark.messages, mark.version)


def mark_of(order: Order, cursor: str) -> Mark:
    messages, version = decode(cursor, _KIND[order], 2)
    try:
        return Mark(int(messages), int(version))
    except ValueError:
        raise InvalidInput("is not a cursor this API gave", field="cursor") from None


def read_page(
    core: Core, brand_id: UUID, conversation_id: UUID, order: Order, limit: int, at: Mark | None
) -> Page:
    """A page of the conversation; blocking (run it on the store's threads)."""

    def messages(loader: Core) -> tuple[ConversationOut, Mark, bool] | None:
        conversation = conversation_of(loader, brand_id, conversation_id)
        return _messages_page(conversation, order, limit, at)

    page = core.read(messages)
    if page is None:  # older messages than the cache holds whole: the store's, replayed
        page = _messages_page(conversation_of(core, brand_id, conversation_id), order, limit, at)
    assert page is not None  # a replayed conversation is whole
    shown, mark, more_messages = page
    first_page = at is None
    timeline, mark, more_timeline = _timeline_page(core, conversation_id, order, limit, mark)
    shown.timeline = _with_bot(core, conversation_id, timeline, order, first_page, more_timeline)
    return Page(shown, mark if more_messages or more_timeline else None)


def _with_bot(
    core: Core,
    conversation_id: UUID,
    timeline: list[TimelineEntry],
    order: Order,
    first_page: bool,
    more: bool,
) -> list[TimelineEntry]:
    """The page's facts with its bot's (a flow's questions and answers) that fall in the
    same stretch of time: the page's own span, open-ended at the newest end, and at the
    oldest end on the last page. The cursor stays the conversation's."""
    newest_open = first_page if order is Order.NEWEST else not more
    oldest_open = not more if order is Order.NEWEST else first_page
    if not timeline and not (newest_open and oldest_open):
        return timeline
    times = [e.at for e in timeline]
    bot = [
        entry(e)
        for e in core.events.get(ids.bot_id(conversation_id))
        if isinstance(e, Bot.Event)
        and not isinstance(e, Bot.Opened)
        and (oldest_open or e.timestamp >= min(times))
        and (newest_open or e.timestamp <= max(times))
    ]
    if not bot:
        return timeline
    own = timeline[::-1] if order is Order.NEWEST else timeline
    merged = sorted([*own, *bot], key=lambda e: e.at)  # at a tie, the message, then the bot
    return merged[::-1] if order is Order.NEWEST else merged


def _messages_page(
    c: Conversation, order: Order, limit: int, at: Mark | None
) -> tuple[ConversationOut, Mark, bool] | None:
    """The page's messages and the mark after them; the timeline's mark starts at the
    version these messages reflect. None when one of them was compacted in memory
    (``domain.conversation_memory``): the page is then read from a replay."""
    total = len(c.order)
    if order is Order.NEWEST:
        end = total if at is None else min(at.messages, total)
        start = max(end - limit, 0)
        ids = reversed(c.order[start:end])
        bound, more = start, start > 0
        version = c.version if at is None else at.version
    else:
        start = 0 if at is None else at.messages
        end = min(start + limit, total)
        ids = iter(c.order[start:end])
        bound, more = end, end < total
        version = 0 if at is None else at.version
    messages = [c.messages[i] for i in ids]
    if any(m.compacted for m in messages):
        return None
    shown = ConversationOut.of(c, [MessageOut.of(m) for m in messages], [])
    return shown, Mark(bound, version), more


def _timeline_page(
    core: Core, conversation_id: UUID, order: Order, limit: int, mark: Mark
) -> tuple[list[TimelineEntry], Mark, bool]:
    if order is Order.NEWEST:
        if mark.version <= 0:
            return [], mark, False
        events = core.events.get(conversation_id, lte=mark.version, desc=True, limit=limit)
    else:
        events = core.events.get(conversation_id, gt=mark.version, limit=limit)
    entries = [entry(event) for event in events]
    if not entries:
        return [], mark, False
    last = entries[-1].version
    if order is Order.NEWEST:
        return entries, Mark(mark.messages, last - 1), last > 1
    return entries, Mark(mark.messages, last), len(entries) == limit


def entry(event: Any) -> TimelineEntry:
    """A recorded fact as the API shows it: the conversation's, or its bot's."""
    detail: dict[str, Any] = {
        k: v for k, v in event.__dict__.items() if k not in _HIDDEN and v is not None
    }
    name = type(event).__qualname__.split(".")[-1]
    return TimelineEntry(
        at=event.timestamp, event=name, detail=detail, version=event.originator_version
    )
