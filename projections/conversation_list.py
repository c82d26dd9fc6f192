"""The conversation list: a brand's conversations with their state, for filtering and paging.

Kept to what the list needs (no message text): status, assignment, tags, last activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from chainon.projections.projection import Fact, Projection, Table, Tx
from chainon.projections.read_model_store import ReadModelStore


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
    # An agent's teams: only their conversations (None: every team's, and none's)
    teams: tuple[str, ...] | None = None
    tag: str | None = None
    contact_id: UUID | None = None
    before: int | None = None  # cursor: the activity position of the last row seen
    limit: int = 50


class ConversationList(Projection):
    name = "conversation_list"
    tables = (
        Table(
            "conversation_list",
            """conversation_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL,
            contact_id TEXT NOT NULL, number INTEGER NOT NULL, status TEXT NOT NULL,
            agent TEXT, team TEXT, opened_at TEXT NOT NULL, last_activity_at TEXT NOT NULL,
            last_direction TEXT, last_channel TEXT, message_count INTEGER NOT NULL DEFAULT 0,
            activity_position BIGINT NOT NULL""",
            indexes=(
                "brand_id, activity_position",
                "brand_id, status, activity_position",
                "contact_id",
            ),
        ),
        Table(
            "conversation_tags",
            "conversation_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (conversation_id, tag)",
            indexes=("tag",),
        ),
    )
    facts = frozenset(
        {
            "Conversation.Opened",
            "Conversation.MessageReceived",
            "Conversation.MessageQueued",
            "Conversation.Assigned",
            "Conversation.Tagged",
            "Conversation.Untagged",
            "Conversation.Resolved",
            "Conversation.Reopened",
        }
    )

    def apply(self, tx: Tx, fact: Fact) -> None:
        base = {"id": fact.aggregate_id, "pos": fact.position, "at": fact.timestamp.isoformat()}
        d = fact.data
        match fact.type:
            case "Conversation.Opened":
                tx.execute(
                    """INSERT INTO {conversation_list} (conversation_id, brand_id, contact_id,
                    number, status, opened_at, last_activity_at, activity_position)
                    VALUES (%(id)s, %(brand)s, %(contact)s, %(number)s, 'open', %(at)s, %(at)s,
                    %(pos)s)""",
                    {
                        **base,
                        "brand": d["brand_id"],
                        "contact": d["contact_id"],
                        "number": d["number"],
                    },
                )
            case "Conversation.MessageReceived" | "Conversation.MessageQueued":
                direction = "inbound" if fact.type.endswith("Received") else "outbound"
                tx.execute(
                    """UPDATE {conversation_list} SET last_activity_at = %(at)s,
                    last_direction = %(direction)s, last_channel = %(channel)s,
                    message_count = message_count + 1, activity_position = %(pos)s
                    WHERE conversation_id = %(id)s""",
                    {**base, "direction": direction, "channel": d["channel"]},
                )
            case "Conversation.Assigned":
                tx.execute(
                    "UPDATE {conversation_list} SET agent = %(agent)s, team = %(team)s "
                    "WHERE conversation_id = %(id)s",
                    {**base, "agent": d["agent"], "team": d["team"]},
                )
            case "Conversation.Resolved" | "Conversation.Reopened":
                status = "resolved" if fact.type.endswith("Resolved") else "open"
                tx.execute(
                    """UPDATE {conversation_list} SET status = %(status)s,
                    last_activity_at = %(at)s, activity_position = %(pos)s
                    WHERE conversation_id = %(id)s""",
                    {**base, "status": status},
                )
            case "Conversation.Tagged":
                tx.execute(
                    "INSERT INTO {conversation_tags} (conversation_id, tag) "
                    "VALUES (%(id)s, %(tag)s) ON CONFLICT DO NOTHING",
                    {**base, "tag": d["tag"]},
                )
            case "Conversation.Untagged":
                tx.execute(
                    "DELETE FROM {conversation_tags} WHERE conversation_id = %(id)s "
                    "AND tag = %(tag)s",
                    {**base, "tag": d["tag"]},
                )


def search_sql(where: ConversationFilter) -> tuple[str, dict[str, Any]]:
    clauses = ["c.brand_id = %(brand_id)s"]
    params: dict[str, Any] = {"brand_id": str(where.brand_id), "limit": where.limit}
    for column in ("status", "agent", "team"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"c.{column} = %({column})s")
            params[column] = value
    if where.teams is not None:
        marks = ", ".join(f"%(team{i})s" for i in range(len(where.teams)))
        clauses.append(f"c.team IN ({marks})" if marks else "1 = 0")
        params.update({f"team{i}": team for i, team in enumerate(where.teams)})
    if where.contact_id is not None:
        clauses.append("c.contact_id = %(contact_id)s")
        params["contact_id"] = str(where.contact_id)
    if where.tag is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM {conversation_tags} g "
            "WHERE g.conversation_id = c.conversation_id AND g.tag = %(tag)s)"
        )
        params["tag"] = where.tag
    if where.before is not None:
        clauses.append("c.activity_position < %(before)s")
        params["before"] = where.before
    sql = (
        "SELECT c.* FROM {conversation_list} c WHERE " + " AND ".join(clauses) + " "
        "ORDER BY c.activity_position DESC LIMIT %(limit)s"
    )
    return sql, params


def tags_sql(ids: list[str]) -> tuple[str, dict[str, Any]]:
    marks = ", ".join(f"%(c{i})s" for i in range(len(ids)))
    return (
        "SELECT conversation_id, tag FROM {conversation_tags} "
        f"WHERE conversation_id IN ({marks})",
        {f"c{i}": c for i, c in enumerate(ids)},
    )


def summary(row: dict[str, Any], tags: tuple[str, ...]) -> ConversationSummary:
    return ConversationSummary(
        conversation_id=UUID(row["conversation_id"]),
        brand_id=UUID(row["brand_id"]),
        contact_id=UUID(row["contact_id"]),
        number=row["number"],
        status=row["status"],
        agent=row["agent"],
        team=row["team"],
        tags=tags,
        opened_at=datetime.fromisoformat(row["opened_at"]),
        last_activity_at=datetime.fromisoformat(row["last_activity_at"]),
        last_direction=row["last_direction"],
        last_channel=row["last_channel"],
        message_count=row["message_count"],
        cursor=row["activity_position"],
    )


def search(store: ReadModelStore, where: ConversationFilter) -> list[ConversationSummary]:
    projection = ConversationList()
    sql, params = search_sql(where)
    rows = store.query(projection, sql, params)
    tags: dict[str, list[str]] = {}
    if rows:
        tag_sql, tag_params = tags_sql([r["conversation_id"] for r in rows])
        for r in store.query(projection, tag_sql, tag_params):
            tags.setdefault(r["conversation_id"], []).append(r["tag"])
    return [summary(r, tuple(sorted(tags.get(r["conversation_id"], [])))) for r in rows]
