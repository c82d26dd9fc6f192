"""The conversation list: a brand's conversations with their state, for filtering and paging.

Kept to what the list needs (no message text): status, assignment, tags, last activity.
The rules here are shared; ``projections.sqlite`` and ``projections.postgres`` run them
in their own database, each batch in one transaction with its tracking position.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.conversation import Conversation

NAME = "conversation-list"

TOPICS = tuple(
    cls.TOPIC
    for cls in (
        Conversation.Opened,
        Conversation.MessageReceived,
        Conversation.MessageQueued,
        Conversation.Assigned,
        Conversation.Tagged,
        Conversation.Untagged,
        Conversation.Resolved,
        Conversation.Reopened,
    )
)

# Statements use pyformat parameters; the SQLite backend rewrites them to named style.
CREATE = [
    """CREATE TABLE IF NOT EXISTS {t}conversation_list (
        conversation_id TEXT PRIMARY KEY,
        brand_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        status TEXT NOT NULL,
        agent TEXT,
        team TEXT,
        opened_at TEXT NOT NULL,
        last_activity_at TEXT NOT NULL,
        last_direction TEXT,
        last_channel TEXT,
        message_count INTEGER NOT NULL DEFAULT 0,
        activity_position BIGINT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS conversation_list_brand_activity
        ON {t}conversation_list (brand_id, activity_position)""",
    """CREATE INDEX IF NOT EXISTS conversation_list_brand_status
        ON {t}conversation_list (brand_id, status, activity_position)""",
    """CREATE INDEX IF NOT EXISTS conversation_list_contact
        ON {t}conversation_list (contact_id)""",
    """CREATE TABLE IF NOT EXISTS {t}conversation_tags (
        conversation_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (conversation_id, tag))""",
]

_OPEN = """INSERT INTO {t}conversation_list (conversation_id, brand_id, contact_id, number,
    status, opened_at, last_activity_at, activity_position)
    VALUES (%(id)s, %(brand_id)s, %(contact_id)s, %(number)s, 'open', %(at)s, %(at)s, %(pos)s)
    ON CONFLICT (conversation_id) DO NOTHING"""
_MESSAGE = """UPDATE {t}conversation_list SET last_activity_at = %(at)s,
    last_direction = %(direction)s, last_channel = %(channel)s,
    message_count = message_count + 1, activity_position = %(pos)s
    WHERE conversation_id = %(id)s"""
_ASSIGN = """UPDATE {t}conversation_list SET agent = %(agent)s, team = %(team)s
    WHERE conversation_id = %(id)s"""
_STATUS = """UPDATE {t}conversation_list SET status = %(status)s, last_activity_at = %(at)s,
    activity_position = %(pos)s WHERE conversation_id = %(id)s"""
_TAG = """INSERT INTO {t}conversation_tags (conversation_id, tag) VALUES (%(id)s, %(tag)s)
    ON CONFLICT DO NOTHING"""
_UNTAG = "DELETE FROM {t}conversation_tags WHERE conversation_id = %(id)s AND tag = %(tag)s"


class ConversationListView(Protocol):
    """What each backend's view offers: apply batches exactly once, and search."""

    def apply(self, events: Sequence[tuple[Any, Tracking]]) -> None: ...

    def search(self, where: ConversationFilter) -> list[ConversationSummary]: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


@dataclass(frozen=True)
class ConversationSummary:
    conversation_id: UUID
    brand_id: UUID
    contact_id: UUID
    number: int
    status: str
    agent: str | None
    team: str | None
    tags: tuple[str, ...]
    opened_at: datetime
    last_activity_at: datetime
    last_direction: str | None
    last_channel: str | None
    message_count: int
    cursor: int


@dataclass(frozen=True)
class ConversationFilter:
    brand_id: UUID
    status: str | None = None
    agent: str | None = None
    team: str | None = None
    tag: str | None = None
    contact_id: UUID | None = None
    before: int | None = None  # cursor: the activity position of the last row seen
    limit: int = 50


def statements_for(event: Any, position: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SQL a domain event calls for, newest activity first being the list's order."""
    base = {"id": str(event.originator_id), "pos": position, "at": event.timestamp.isoformat()}
    if isinstance(event, Conversation.Opened):
        yield (
            _OPEN,
            {
                **base,
                "brand_id": str(event.brand_id),
                "contact_id": str(event.contact_id),
                "number": event.number,
            },
        )
    elif isinstance(event, Conversation.MessageReceived | Conversation.MessageQueued):
        direction = "inbound" if isinstance(event, Conversation.MessageReceived) else "outbound"
        yield _MESSAGE, {**base, "direction": direction, "channel": event.channel}
    elif isinstance(event, Conversation.Assigned):
        yield _ASSIGN, {**base, "agent": event.agent, "team": event.team}
    elif isinstance(event, Conversation.Resolved | Conversation.Reopened):
        status = "resolved" if isinstance(event, Conversation.Resolved) else "open"
        yield _STATUS, {**base, "status": status}
    elif isinstance(event, Conversation.Tagged):
        yield _TAG, {**base, "tag": event.tag}
    elif isinstance(event, Conversation.Untagged):
        yield _UNTAG, {**base, "tag": event.tag}


def search_statement(where: ConversationFilter) -> tuple[str, dict[str, Any]]:
    clauses = ["c.brand_id = %(brand_id)s"]
    params: dict[str, Any] = {"brand_id": str(where.brand_id), "limit": where.limit}
    for column in ("status", "agent", "team"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"c.{column} = %({column})s")
            params[column] = value
    if where.contact_id is not None:
        clauses.append("c.contact_id = %(contact_id)s")
        params["contact_id"] = str(where.contact_id)
    if where.tag is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM {t}conversation_tags g "
            "WHERE g.conversation_id = c.conversation_id AND g.tag = %(tag)s)"
        )
        params["tag"] = where.tag
    if where.before is not None:
        clauses.append("c.activity_position < %(before)s")
        params["before"] = where.before
    sql = (
        "SELECT c.*, (SELECT {agg} FROM {t}conversation_tags g "
        "WHERE g.conversation_id = c.conversation_id) AS tags "
        "FROM {t}conversation_list c WHERE " + " AND ".join(clauses) + " "
        "ORDER BY c.activity_position DESC LIMIT %(limit)s"
    )
    return sql, params


def summary_from_row(row: Any) -> ConversationSummary:
    tags = row["tags"]
    return ConversationSummary(
        conversation_id=UUID(row["conversation_id"]),
        brand_id=UUID(row["brand_id"]),
        contact_id=UUID(row["contact_id"]),
        number=row["number"],
        status=row["status"],
        agent=row["agent"],
        team=row["team"],
        tags=tuple(sorted(tags.split(","))) if tags else (),
        opened_at=datetime.fromisoformat(row["opened_at"]),
        last_activity_at=datetime.fromisoformat(row["last_activity_at"]),
        last_direction=row["last_direction"],
        last_channel=row["last_channel"],
        message_count=row["message_count"],
        cursor=row["activity_position"],
    )
