"""Fallback deadlines still pending: the RCS messages that fall back unless DELIVERED in time.

This table is what makes a deadline durable. A timer in memory dies with its process;
these rows come from the events alone, so a restart, a rebuild or another process finds
every deadline still owed, and the scheduler (``chainon.deadlines``) reads the due ones
from here. A row lives from ``FallbackPlanned`` until anything that ends the wait: the
message's outcome, the revocation asked at the deadline, or the fallback itself.

Rows hold no brand: the facts that plan and end a deadline do not name one, and a lookup
table of every conversation's brand would cost a row per conversation for nothing the
scheduler needs (the core finds the brand from the conversation).
"""

from __future__ import annotations

from datetime import datetime

from chainon.projections.deadline_queries import DueDeadline, due_in, pending_in
from chainon.projections.projection import Fact, Projection, Table, Tx, sortable_utc
from chainon.projections.read_model_store import ReadModelStore

# Each ends the wait for its message: after it, the core would ignore the deadline anyway.
_ENDS = frozenset(
    {
        "Conversation.MessageDelivered",
        "Conversation.MessageFailed",
        "Conversation.MessageExpired",
        "Conversation.RevocationRequested",
        "Conversation.FallbackTriggered",
    }
)


class FallbackDeadlines(Projection):
    name = "fallback_deadlines"
    tables = (
        Table(
            "fallback_deadlines",
            "message_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, "
            "channel TEXT NOT NULL, deadline TEXT NOT NULL",
            indexes=("deadline, message_id",),
        ),
    )
    facts = frozenset({"Conversation.FallbackPlanned", *_ENDS})

    def apply(self, tx: Tx, fact: Fact) -> None:
        d = fact.data
        if fact.type == "Conversation.FallbackPlanned":
            deadline = sortable_utc(datetime.fromisoformat(d["deadline"]))
            tx.execute(
                "INSERT INTO {fallback_deadlines} (message_id, conversation_id, channel, "
                "deadline) VALUES (%(m)s, %(c)s, %(ch)s, %(d)s) "
                "ON CONFLICT (message_id) DO NOTHING",
                {"m": d["message_id"], "c": fact.aggregate_id, "ch": d["channel"], "d": deadline},
            )
        elif d.get("message_id") is not None:  # a fallback of an unsent message names none
            tx.execute(
                "DELETE FROM {fallback_deadlines} WHERE message_id = %(m)s",
                {"m": d["message_id"]},
            )


def due(store: ReadModelStore, now: datetime, limit: int = 500) -> list[DueDeadline]:
    """Deadlines at or before ``now``, the longest overdue first, at most ``limit``."""
    return due_in(store, FallbackDeadlines(), "fallback_deadlines", now, limit)


def pending(store: ReadModelStore) -> int:
    """How many deadlines are still owed, due or not (for status and tests)."""
    return pending_in(store, FallbackDeadlines(), "fallback_deadlines")
