"""Bot analytics: per brand, per UTC day, per flow, how many dialogues started, completed,
were handed off, timed out or stopped; and the CSAT ratings, with the team and agent the
conversation had when the consumer rated it.

A rating is an answer a flow stores as ``csat_score`` (the CSAT example's ``store_as``), a
whole number from 1 to 5. Each is one row keyed by its bot and dialogue run, so a fact
applied twice counts once; averages and distributions are read from the rows. ``apply``
reads only the facts: a rebuild gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any
from uuid import UUID

from chainon.projections.projection import Fact, Projection, Table, Tx, one
from chainon.projections.read_model_store import ReadModelStore

CSAT_ATTRIBUTE = "csat_score"
OUTCOMES = ("started", "completed", "handed_off", "timed_out", "stopped")
_COUNTED = {
    "Bot.FlowStarted": "started",
    "Bot.FlowCompleted": "completed",
    "Bot.HandedOff": "handed_off",
    "Bot.FlowTimedOut": "timed_out",
    "Bot.FlowStopped": "stopped",
}


class FlowStats(Projection):
    name = "flow_stats"
    tables = (
        Table(
            "flow_daily",
            "brand_id TEXT NOT NULL, day TEXT NOT NULL, flow TEXT NOT NULL, "
            + ", ".join(f"{o} BIGINT NOT NULL DEFAULT 0" for o in OUTCOMES)
            + ", PRIMARY KEY (brand_id, day, flow)",
        ),
        Table(
            "flow_ratings",
            "bot_id TEXT NOT NULL, run INTEGER NOT NULL, brand_id TEXT NOT NULL, "
            "day TEXT NOT NULL, flow TEXT NOT NULL, team TEXT, agent TEXT, "
            "score INTEGER NOT NULL, PRIMARY KEY (bot_id, run)",
            indexes=("brand_id, day",),
        ),
        # Lookups: a bot's brand, conversation and current flow; a conversation's holder.
        Table(
            "flow_bots",
            "bot_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL, conversation_id TEXT NOT NULL, "
            "flow TEXT",
        ),
        Table("flow_holders", "conversation_id TEXT PRIMARY KEY, team TEXT, agent TEXT"),
    )
    facts = frozenset({"Bot.Opened", "Bot.AnswerCollected", "Conversation.Assigned", *_COUNTED})

    def apply(self, tx: Tx, fact: Fact) -> None:
        d, base = fact.data, {"id": fact.aggregate_id}
        if fact.type == "Bot.Opened":
            tx.execute(
                "INSERT INTO {flow_bots} (bot_id, brand_id, conversation_id) "
                "VALUES (%(id)s, %(b)s, %(c)s) ON CONFLICT (bot_id) DO NOTHING",
                {**base, "b": d["brand_id"], "c": d["conversation_id"]},
            )
        elif fact.type == "Conversation.Assigned":
            tx.execute(
                "INSERT INTO {flow_holders} (conversation_id, team, agent) "
                "VALUES (%(id)s, %(team)s, %(agent)s) ON CONFLICT (conversation_id) "
                "DO UPDATE SET team = excluded.team, agent = excluded.agent",
                {**base, "team": d.get("team"), "agent": d.get("agent")},
            )
        elif fact.type == "Bot.AnswerCollected":
            self._rated(tx, fact)
        else:
            if fact.type == "Bot.FlowStarted":
                tx.execute(
                    "UPDATE {flow_bots} SET flow = %(f)s WHERE bot_id = %(id)s",
                    {**base, "f": d["flow"]},
                )
            bot = _bot(tx, fact.aggregate_id)
            if bot is None or bot["flow"] is None:
                return
            column = _COUNTED[fact.type]
            key = {"brand_id": bot["brand_id"], "day": _day(fact), "flow": bot["flow"]}
            tx.add("flow_daily", key, {column: 1})

    def _rated(self, tx: Tx, fact: Fact) -> None:
        d = fact.data
        if d.get("store_as") != CSAT_ATTRIBUTE or d["value"] not in {"1", "2", "3", "4", "5"}:
            return
        bot = _bot(tx, fact.aggregate_id)
        if bot is None:
            return
        holder = one(
            tx.rows(
                "SELECT team, agent FROM {flow_holders} WHERE conversation_id = %(c)s",
                {"c": bot["conversation_id"]},
            )
        )
        tx.execute(
            "INSERT INTO {flow_ratings} (bot_id, run, brand_id, day, flow, team, agent, score) "
            "VALUES (%(id)s, %(run)s, %(b)s, %(day)s, %(f)s, %(team)s, %(agent)s, %(score)s) "
            "ON CONFLICT (bot_id, run) DO NOTHING",
            {
                "id": fact.aggregate_id,
                "run": d["run"],
                "b": bot["brand_id"],
                "day": _day(fact),
                "f": bot["flow"] or "",
                "team": holder["team"] if holder else None,
                "agent": holder["agent"] if holder else None,
                "score": int(d["value"]),
            },
        )


def _bot(tx: Tx, bot_id: str) -> dict[str, Any] | None:
    return one(tx.rows("SELECT * FROM {flow_bots} WHERE bot_id = %(id)s", {"id": bot_id}))


def _day(fact: Fact) -> str:
    return fact.timestamp.astimezone(UTC).date().isoformat()


@dataclass
class FlowCounts:
    flow: str
    started: int = 0
    completed: int = 0
    handed_off: int = 0
    timed_out: int = 0
    stopped: int = 0


@dataclass
class Ratings:
    """CSAT of one team or agent (None: the conversation had none when rated)."""

    name: str | None
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))

    @property
    def count(self) -> int:
        return sum(self.distribution.values())

    @property
    def average(self) -> float | None:
        total = sum(score * n for score, n in self.distribution.items())
        return round(total / self.count, 2) if self.count else None


def flows(store: ReadModelStore, brand_id: UUID, first: date, last: date) -> list[FlowCounts]:
    """Each flow's dialogues between two UTC days (both included), by name."""
    rows = store.query(
        FlowStats(),
        "SELECT flow, "
        + ", ".join(f"SUM({o}) AS {o}" for o in OUTCOMES)
        + " FROM {flow_daily} WHERE brand_id = %(b)s AND day >= %(f)s AND day <= %(l)s "
        "GROUP BY flow ORDER BY flow",
        {"b": str(brand_id), "f": first.isoformat(), "l": last.isoformat()},
    )
    return [FlowCounts(r["flow"], *(int(r[o]) for o in OUTCOMES)) for r in rows]


def csat(store: ReadModelStore, brand_id: UUID, first: date, last: date, by: str) -> list[Ratings]:
    """CSAT ratings between two UTC days, per ``team`` or per ``agent``."""
    assert by in ("team", "agent")
    rows = store.query(
        FlowStats(),
        f"SELECT {by} AS name, score, COUNT(*) AS n FROM {{flow_ratings}} "
        "WHERE brand_id = %(b)s AND day >= %(f)s AND day <= %(l)s "
        f"GROUP BY {by}, score ORDER BY {by}, score",
        {"b": str(brand_id), "f": first.isoformat(), "l": last.isoformat()},
    )
    found: dict[str | None, Ratings] = {}
    for r in rows:
        found.setdefault(r["name"], Ratings(r["name"])).distribution[int(r["score"])] = int(r["n"])
    return list(found.values())
