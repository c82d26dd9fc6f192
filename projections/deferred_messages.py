"""Messages quiet hours hold, until their release: what makes a deferral durable.

Like the fallback deadlines (``fallback_deadlines``), these rows come from the events
alone, so a restart, a rebuild or another process finds every message still held, and the
release scheduler reads the due ones from here. A row lives from ``MessageDeferred`` (a
deferral again moves its time) until the message is queued or blocked.
"""

from __future__ import annotations

from datetime import datetime

from chainon.projections.deadline_queries import DueDeadline, due_in, pending_in
from chainon.projections.projection import Fact, Projection, Table, Tx, sortable_utc
from chainon.projections.read_model_store import ReadModelStore

# Either ends the hold; a message queued without a hold never had a row (nothing deleted).
_ENDS = frozenset({"Conversation.MessageQueued", "Conversation.MessageBlocked"})


class DeferredMessages(Projection):
    name = "deferred_messages"
    tables = (
        Table(
            "deferred_messages",
            "message_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, release_at TEXT NOT NULL",
            indexes=("release_at, message_id",),
        ),
    )
    facts = frozenset({"Conversation.MessageDeferred", *_ENDS})

    def apply(self, tx: Tx, fact: Fact) -> None:
        d = fact.data
        if fact.type == "Conversation.MessageDeferred":
            release_at = sortable_utc(datetime.fromisoformat(d["release_at"]))
            tx.execute(
                "INSERT INTO {deferred_messages} (message_id, conversation_id, release_at) "
                "VALUES (%(m)s, %(c)s, %(r)s) "
                "ON CONFLICT (message_id) DO UPDATE SET release_at = excluded.release_at",
                {"m": d["message_id"], "c": fact.aggregate_id, "r": release_at},
            )
        else:
            tx.execute(
                "DELETE FROM {deferred_messages} WHERE message_id = %(m)s", {"m": d["message_id"]}
            )


def due(store: ReadModelStore, now: datetime, limit: int = 500) -> list[DueDeadline]:
    """Held messages whose release time came, the longest overdue first, at most ``limit``."""
    return due_in(store, DeferredMessages(), "deferred_messages", now, limit, column="release_at")


def pending(store: ReadModelStore) -> int:
    return pending_in(store, DeferredMessages(), "deferred_messages")
