"""The schedulers' two questions of a deadline table: which rows are due, and how many
are owed. The fallback and receipt deadlines and the deferred messages keep the same
rows (a message, its conversation and a sortable UTC time), so one query serves them all;
each table's module says when its rows come and go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chainon.projections.projection import Projection, sortable_utc
from chainon.projections.read_model_store import ReadModelStore


@dataclass(frozen=True)
class DueDeadline:
    conversation_id: UUID
    message_id: UUID
    deadline: datetime


def due_in(
    store: ReadModelStore,
    projection: Projection,
    table: str,
    now: datetime,
    limit: int,
    *,
    column: str = "deadline",
) -> list[DueDeadline]:
    """Rows whose ``column`` is at or before ``now``, the longest overdue first, at most
    ``limit``."""
    rows = store.query(
        projection,
        f"SELECT conversation_id, message_id, {column} FROM {{{table}}} "
        f"WHERE {column} <= %(now)s ORDER BY {column}, message_id LIMIT %(limit)s",
        {"now": sortable_utc(now), "limit": limit},
    )
    return [
        DueDeadline(
            UUID(r["conversation_id"]), UUID(r["message_id"]), datetime.fromisoformat(r[column])
        )
        for r in rows
    ]


def pending_in(store: ReadModelStore, projection: Projection, table: str) -> int:
    """How many rows are owed, due or not (for status and tests)."""
    rows = store.query(projection, f"SELECT COUNT(*) AS n FROM {{{table}}}", {})
    return int(rows[0]["n"])
