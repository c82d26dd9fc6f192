"""Receipt deadlines still pending: the sent messages that expire unless a receipt comes.

The receipt of a message handed to a provider may never come (the SMSC lost it, the
dispatcher died with the sandbox's timers): these rows, filled from the events alone as
the fallback deadlines are, let the scheduler (``chainon.deadlines``) expire such a
message durably. A row lives from the ``MessageSent`` that names a receipt deadline until
anything that takes the message past ``sent``.
"""

from __future__ import annotations

from datetime import datetime

from chainon.projections.deadline_queries import DueDeadline, due_in, pending_in
from chainon.projections.projection import Fact, Projection, Table, Tx, sortable_utc
from chainon.projections.read_model_store import ReadModelStore

# Each takes the message past ``sent``: after it, the core would ignore the deadline.
_ENDS = frozenset(
    {
        "Conversation.MessageDelivered",
        "Conversation.MessageFailed",
        "Conversation.MessageExpired",
        "Conversation.MessageRevoked",
        "Conversation.ReceiptOverdue",
        "Conversation.FallbackTriggered",
    }
)


class ReceiptDeadlines(Projection):
    name = "receipt_deadlines"
    tables = (
        Table(
            "receipt_deadlines",
            "message_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, deadline TEXT NOT NULL",
            indexes=("deadline, message_id",),
        ),
    )
    facts = frozenset({"Conversation.MessageSent", *_ENDS})

    def apply(self, tx: Tx, fact: Fact) -> None:
        d = fact.data
        if fact.type == "Conversation.MessageSent":
            if d.get("receipt_deadline") is None:  # no receipts on its channel; or older
                return
            deadline = sortable_utc(datetime.fromisoformat(d["receipt_deadline"]))
            tx.execute(
                "INSERT INTO {receipt_deadlines} (message_id, conversation_id, deadline) "
                "VALUES (%(m)s, %(c)s, %(d)s) ON CONFLICT (message_id) DO NOTHING",
                {"m": d["message_id"], "c": fact.aggregate_id, "d": deadline},
            )
        elif d.get("message_id") is not None:  # a fallback of an unsent message names none
            tx.execute(
                "DELETE FROM {receipt_deadlines} WHERE message_id = %(m)s", {"m": d["message_id"]}
            )


def due(store: ReadModelStore, now: datetime, limit: int = 500) -> list[DueDeadline]:
    """Deadlines at or before ``now``, the longest overdue first, at most ``limit``."""
    return due_in(store, ReceiptDeadlines(), "receipt_deadlines", now, limit)


def pending(store: ReadModelStore) -> int:
    """How many sent messages still wait for a receipt under a deadline."""
    return pending_in(store, ReceiptDeadlines(), "receipt_deadlines")
