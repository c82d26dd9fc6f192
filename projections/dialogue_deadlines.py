"""Bots' questions still waiting for an answer, with their deadlines: what makes a flow's
timeout durable.

A timer in memory dies with its process; these rows come from the events alone, so a
restart, a rebuild or another process finds every dialogue still waiting, and the
scheduler (``chainon.deadlines``) hands the due ones to the core, which times them out
(hands off or closes, as the flow says). One row per bot (a conversation's dialogues
follow each other): a question asked sets it, anything that ends the wait removes it. An
answer refused is followed by its reprompt, which sets the row again.
"""

from __future__ import annotations

from datetime import datetime

from chainon.projections.deadline_queries import DueDeadline, due_in, pending_in
from chainon.projections.projection import Fact, Projection, Table, Tx, sortable_utc
from chainon.projections.read_model_store import ReadModelStore

_ENDS = frozenset(
    {
        "Bot.AnswerCollected",
        "Bot.HandedOff",
        "Bot.FlowCompleted",
        "Bot.FlowTimedOut",
        "Bot.FlowStopped",
    }
)


class DialogueDeadlines(Projection):
    name = "dialogue_deadlines"
    tables = (
        Table(
            "dialogue_deadlines",
            "bot_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, "
            "message_id TEXT NOT NULL, deadline TEXT NOT NULL",
            indexes=("deadline, bot_id",),
        ),
    )
    facts = frozenset({"Bot.QuestionAsked", *_ENDS})

    def apply(self, tx: Tx, fact: Fact) -> None:
        d = fact.data
        if fact.type == "Bot.QuestionAsked":
            tx.execute(
                "INSERT INTO {dialogue_deadlines} (bot_id, conversation_id, message_id, "
                "deadline) VALUES (%(b)s, %(c)s, %(m)s, %(d)s) ON CONFLICT (bot_id) DO UPDATE "
                "SET message_id = excluded.message_id, deadline = excluded.deadline",
                {
                    "b": fact.aggregate_id,
                    "c": d["conversation_id"],
                    "m": d["message_id"],
                    "d": sortable_utc(datetime.fromisoformat(d["deadline"])),
                },
            )
        else:
            tx.execute(
                "DELETE FROM {dialogue_deadlines} WHERE bot_id = %(b)s", {"b": fact.aggregate_id}
            )


def due(store: ReadModelStore, now: datetime, limit: int = 500) -> list[DueDeadline]:
    """Questions unanswered at ``now``, the longest overdue first: ``message_id`` is the
    question's (what the scheduler remembers having handed on)."""
    return due_in(store, DialogueDeadlines(), "dialogue_deadlines", now, limit)


def pending(store: ReadModelStore) -> int:
    return pending_in(store, DialogueDeadlines(), "dialogue_deadlines")
