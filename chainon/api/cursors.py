"""Page cursors: where a list's page ended, handed back as ``cursor`` for the next page.

One form for every list: URL-safe base64 (unpadded) of ``kind:part:part…``. The kind
keeps a cursor of one list from being read as another's; the parts are the sort key of
the page's last row (keyset paging), so a page never skips or repeats a row because rows
were added before it, as an offset would. The last part may itself hold colons (a time).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Query

from chainon.domain.errors import InvalidInput
from chainon.projections.agent_queue import QueueMark
from chainon.projections.crm_profile import ProfileMark
from chainon.projections.projection import sortable_utc

CursorParam = Annotated[
    str | None,
    Query(max_length=200, description="The previous page's `next_cursor`: the page after it."),
]

_CONVERSATIONS, _QUEUE, _CONTACTS, _AUDIT = "p", "q", "c", "a"
T = TypeVar("T")


def encode(kind: str, *parts: object) -> str:
    text = ":".join((kind, *(str(part) for part in parts)))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, kind: str, parts: int) -> list[str]:
    """The cursor's parts, or a 422 naming ``cursor`` when this API did not give it."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise _foreign() from None
    found = text.split(":", parts)
    if len(found) != parts + 1 or found[0] != kind:
        raise _foreign()
    return found[1:]


def conversations_cursor(position: int) -> str:
    return encode(_CONVERSATIONS, position)


def conversations_position(cursor: str) -> int:
    (position,) = decode(cursor, _CONVERSATIONS, 1)
    return _parsed(int, position)


def audit_cursor(entry_id: int) -> str:
    return encode(_AUDIT, entry_id)


def audit_position(cursor: str) -> int:
    (entry_id,) = decode(cursor, _AUDIT, 1)
    return _parsed(int, entry_id)


def queue_cursor(mark: QueueMark) -> str:
    return encode(_QUEUE, mark.priority, mark.conversation_id, mark.since)


def queue_mark(cursor: str) -> QueueMark:
    priority, conversation_id, since = decode(cursor, _QUEUE, 3)
    return QueueMark(
        priority=_parsed(int, priority),
        conversation_id=str(_parsed(UUID, conversation_id)),
        since=_time(since),
    )


def contacts_cursor(mark: ProfileMark) -> str:
    return encode(_CONTACTS, mark.contact_id, mark.last_seen_at)


def contacts_mark(cursor: str) -> ProfileMark:
    contact_id, last_seen_at = decode(cursor, _CONTACTS, 2)
    return ProfileMark(
        contact_id=str(_parsed(UUID, contact_id)),
        last_seen_at=_time(last_seen_at) if last_seen_at else "",
    )


def _parsed(parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError:
        raise _foreign() from None


def _time(text: str) -> str:
    """The time as the read models store it: the same text compares the same way."""
    return sortable_utc(_parsed(datetime.fromisoformat, text))


def _foreign() -> InvalidInput:
    return InvalidInput("is not a cursor this API gave", field="cursor")
