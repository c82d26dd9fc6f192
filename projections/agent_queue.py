"""The agent queue: per brand, which conversations wait for an agent, by priority and age.

A conversation waits when it is open and either a consumer's message is unanswered
(``waiting_since``) or no agent has it. The first-response SLA is due ``waiting_since``
plus the brand's minutes, recomputed when the brand changes them, so the rows follow from
the facts alone; the age and the breach, which depend on the clock, are computed at read
time from the ``now`` the caller passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from chainon.domain.brand import DEFAULT_AGENT_CAPACITY, DEFAULT_FIRST_RESPONSE_MINUTES
from chainon.projections.projection import (
    Fact,
    Lookup,
    Projection,
    Table,
    Tx,
    one,
    sortable_utc,
)
from chainon.projections.read_model_store import ReadModelStore

_WITH_FLAGS = (
    "i.*, f.possible_opt_out, h.flow AS handoff_flow, h.reason AS handoff_reason, "
    "h.summary AS handoff_summary, h.answers AS handoff_answers, "
    "EXISTS (SELECT 1 FROM {queue_bots} b WHERE b.conversation_id = i.conversation_id) "
    "AS bot_waiting FROM {queue_items} i "
    "LEFT JOIN {queue_flags} f ON f.conversation_id = i.conversation_id "
    "LEFT JOIN {queue_handoffs} h ON h.conversation_id = i.conversation_id"
)
# A conversation whose bot waits for an answer waits for no person: it is not queued
# until the bot hands it off (or its dialogue ends).
WAITING = (
    "i.status = 'open' AND (i.waiting_since IS NOT NULL OR i.agent IS NULL) AND NOT EXISTS "
    "(SELECT 1 FROM {queue_bots} b WHERE b.conversation_id = i.conversation_id)"
)
_BOT_ENDS = frozenset({"Bot.HandedOff", "Bot.FlowCompleted", "Bot.FlowTimedOut", "Bot.FlowStopped"})
SINCE = "COALESCE(i.waiting_since, i.opened_at)"


@dataclass(frozen=True)
class QueueMark:
    """Where a page of the queue ended: the sort key of its last row."""

    priority: int
    since: str  # sortable_utc of waiting_since, or of opened_at when only unassigned
    conversation_id: str


@dataclass(frozen=True)
class QueueItem:
    conversation_id: str
    brand_id: str
    contact_id: str
    status: str
    agent: str | None
    team: str | None
    priority: int
    waiting_since: datetime | None
    sla_due_at: datetime | None
    last_message_at: datetime | None
    last_direction: str | None
    opened_at: datetime
    position: int  # of the last fact that changed the row
    possible_opt_out: str | None  # the detector's rule, when a reply may be an opt-out
    handoff: Handoff | None  # what a bot handed on, when one did
    waiting: bool
    age_seconds: int  # since waiting_since, or since it opened when only unassigned
    breached: bool
    mark: QueueMark


@dataclass(frozen=True)
class Handoff:
    flow: str
    reason: str
    summary: str
    answers: dict[str, str]


@dataclass(frozen=True)
class AgentLoad:
    agent: str
    capacity: int
    open: int

    @property
    def at_capacity(self) -> bool:
        return self.open >= self.capacity


class AgentQueue(Projection):
    name = "agent_queue"
    tables = (
        Table(
            "queue_items",
            """conversation_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL,
            contact_id TEXT NOT NULL, status TEXT NOT NULL, agent TEXT, team TEXT,
            priority INTEGER NOT NULL DEFAULT 0, waiting_since TEXT, sla_due_at TEXT,
            last_message_at TEXT, last_direction TEXT, opened_at TEXT NOT NULL,
            updated_position BIGINT NOT NULL""",
            indexes=(
                "brand_id, status, priority, waiting_since",
                "brand_id, agent, status",
                "brand_id, updated_position",
            ),
            volatile=("updated_position",),  # the stream's cursor: arrival order decides it
        ),
        # Conversations whose last words the opt-out detector could not read for sure:
        # "possible opt-out", for a person to confirm or restore (its own table: a
        # database made before it gets it with no migration).
        Table(
            "queue_flags",
            "conversation_id TEXT PRIMARY KEY, possible_opt_out TEXT NOT NULL",
        ),
        # What a bot handed on: its summary and the answers it collected, for the agent
        # who takes the conversation (the last hand-off of each conversation).
        Table(
            "queue_handoffs",
            """conversation_id TEXT PRIMARY KEY, flow TEXT NOT NULL, reason TEXT NOT NULL,
            summary TEXT NOT NULL, answers TEXT NOT NULL""",
        ),
        # Conversations whose bot waits for an answer, by the bot's id (the facts that end
        # a dialogue name only their bot).
        Table("queue_bots", "bot_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL"),
        Table("queue_brands", "brand_id TEXT PRIMARY KEY, first_response_minutes INTEGER NOT NULL"),
        Table(
            "queue_agents",
            """brand_id TEXT NOT NULL, agent TEXT NOT NULL, capacity INTEGER NOT NULL,
            PRIMARY KEY (brand_id, agent)""",
        ),
    )
    facts = frozenset(
        {
            "Conversation.Opened",
            "Conversation.MessageReceived",
            "Conversation.MessageQueued",
            "Conversation.Assigned",
            "Conversation.Prioritized",
            "Conversation.Resolved",
            "Conversation.Reopened",
            "Conversation.ConsentRequestRead",
            "Brand.Registered",
            "Brand.QueueConfigured",
            "Brand.AgentCapacitySet",
            "Bot.QuestionAsked",
            *_BOT_ENDS,
        }
    )
    # Every write to an item goes through `Opened`'s insert or `_update`, which forget it.
    lookups = (
        Lookup("queue_items", "conversation_id", "brand_id, waiting_since, sla_due_at"),
        Lookup("queue_brands", "brand_id", "first_response_minutes", by_aggregate=False),
    )

    def apply(self, tx: Tx, fact: Fact) -> None:
        base = {"id": fact.aggregate_id, "pos": fact.position, "at": sortable_utc(fact.timestamp)}
        d = fact.data
        match fact.type:
            case "Conversation.Opened":
                tx.execute(
                    """INSERT INTO {queue_items} (conversation_id, brand_id, contact_id, status,
                    opened_at, updated_position)
                    VALUES (%(id)s, %(brand)s, %(contact)s, 'open', %(at)s, %(pos)s)""",
                    {**base, "brand": d["brand_id"], "contact": d["contact_id"]},
                )
                opened = {"brand_id": d["brand_id"], "waiting_since": None, "sla_due_at": None}
                tx.inserted("queue_items", fact.aggregate_id, opened)
            case "Conversation.MessageReceived":
                self._received(tx, fact, base)
            case "Conversation.MessageQueued":
                self._update(
                    tx,
                    "last_message_at = %(at)s, last_direction = 'outbound', "
                    "waiting_since = NULL, sla_due_at = NULL",
                    base,
                )
            case "Conversation.Assigned":
                self._update(tx, "agent = %(agent)s, team = %(team)s", {**d, **base})
            case "Conversation.Prioritized":
                self._update(tx, "priority = %(priority)s", {**d, **base})
            case "Conversation.Resolved" | "Conversation.Reopened":
                status = "resolved" if fact.type.endswith("Resolved") else "open"
                self._update(tx, "status = %(status)s", {**base, "status": status})
            case "Conversation.ConsentRequestRead":
                self._flagged(tx, fact, base)
            case "Bot.QuestionAsked":
                tx.execute(
                    "INSERT INTO {queue_bots} (bot_id, conversation_id) VALUES (%(id)s, %(c)s) "
                    "ON CONFLICT (bot_id) DO NOTHING",
                    {**base, "c": d["conversation_id"]},
                )
                self._update(tx, "priority = priority", {**base, "id": d["conversation_id"]})
            case kind if kind in _BOT_ENDS:
                self._bot_ended(tx, fact, base)
            case "Brand.Registered" | "Brand.QueueConfigured":
                self._configured(tx, fact, base)
            case "Brand.AgentCapacitySet":
                tx.execute(
                    "INSERT INTO {queue_agents} (brand_id, agent, capacity) "
                    "VALUES (%(id)s, %(agent)s, %(capacity)s) ON CONFLICT (brand_id, agent) "
                    "DO UPDATE SET capacity = excluded.capacity",
                    {**d, **base},
                )

    @staticmethod
    def _update(tx: Tx, assignments: str, params: dict[str, Any]) -> None:
        # The highest position wins, not the last applied: on Kafka a brand's facts and a
        # conversation's may arrive in either order, and the rows must end up the same.
        tx.execute(
            f"UPDATE {{queue_items}} SET {assignments}, updated_position = CASE "
            "WHEN updated_position < %(pos)s THEN %(pos)s ELSE updated_position END "
            "WHERE conversation_id = %(id)s",
            params,
        )
        tx.forget("queue_items", params["id"])

    def _received(self, tx: Tx, fact: Fact, base: dict[str, Any]) -> None:
        """The first unanswered message starts the clock; later ones do not restart it,
        and an automatic one (an out-of-office) never starts it: it asks for no answer."""
        if fact.data.get("automatic", False):  # v1 events had no such field
            self._update(tx, "last_message_at = %(at)s, last_direction = 'inbound'", base)
            return
        row = tx.lookup("queue_items", fact.aggregate_id)
        if row is None:
            return
        since, due = row["waiting_since"], row["sla_due_at"]
        if since is None:
            since = base["at"]
            due = _due(since, _minutes(tx, row["brand_id"]))
        self._update(
            tx,
            "last_message_at = %(at)s, last_direction = 'inbound', "
            "waiting_since = %(since)s, sla_due_at = %(due)s",
            {**base, "since": since, "due": due},
        )

    def _flagged(self, tx: Tx, fact: Fact, base: dict[str, Any]) -> None:
        """An uncertain reading flags the conversation; a clear one (a STOP, a START that
        followed) settles the question."""
        if fact.data["certain"]:
            tx.execute("DELETE FROM {queue_flags} WHERE conversation_id = %(id)s", base)
        else:
            tx.execute(
                "INSERT INTO {queue_flags} (conversation_id, possible_opt_out) "
                "VALUES (%(id)s, %(rule)s) ON CONFLICT (conversation_id) "
                "DO UPDATE SET possible_opt_out = excluded.possible_opt_out",
                {**base, "rule": fact.data["rule"]},
            )
        self._update(tx, "priority = priority", base)  # the stream shows the change

    def _bot_ended(self, tx: Tx, fact: Fact, base: dict[str, Any]) -> None:
        """The bot no longer waits; a hand-off leaves its summary for the agent."""
        row = one(tx.rows("SELECT conversation_id FROM {queue_bots} WHERE bot_id = %(id)s", base))
        tx.execute("DELETE FROM {queue_bots} WHERE bot_id = %(id)s", base)
        d = fact.data
        if fact.type == "Bot.HandedOff":
            tx.execute(
                "INSERT INTO {queue_handoffs} (conversation_id, flow, reason, summary, answers) "
                "VALUES (%(c)s, %(flow)s, %(reason)s, %(summary)s, %(answers)s) "
                "ON CONFLICT (conversation_id) DO UPDATE SET flow = excluded.flow, "
                "reason = excluded.reason, summary = excluded.summary, answers = excluded.answers",
                {
                    "c": d["conversation_id"],
                    "flow": d["flow"],
                    "reason": d["reason"],
                    "summary": d["summary"],
                    "answers": json.dumps(d["answers"], sort_keys=True),
                },
            )
            row = {"conversation_id": d["conversation_id"]}
        if row is not None:  # the stream shows the change
            self._update(tx, "priority = priority", {**base, "id": row["conversation_id"]})

    def _configured(self, tx: Tx, fact: Fact, base: dict[str, Any]) -> None:
        """A new SLA moves the due time of every unanswered conversation of the brand."""
        minutes = int(fact.data.get("first_response_minutes", DEFAULT_FIRST_RESPONSE_MINUTES))
        tx.execute(
            "INSERT INTO {queue_brands} (brand_id, first_response_minutes) VALUES (%(id)s, %(m)s) "
            "ON CONFLICT (brand_id) "
            "DO UPDATE SET first_response_minutes = excluded.first_response_minutes",
            {**base, "m": minutes},
        )
        tx.forget("queue_brands", fact.aggregate_id)
        for row in tx.rows(
            "SELECT conversation_id, waiting_since FROM {queue_items} "
            "WHERE brand_id = %(id)s AND waiting_since IS NOT NULL",
            base,
        ):
            due = _due(row["waiting_since"], minutes)
            self._update(
                tx, "sla_due_at = %(due)s", {**base, "id": row["conversation_id"], "due": due}
            )


def _minutes(tx: Tx, brand_id: str) -> int:
    row = tx.lookup("queue_brands", brand_id)
    return DEFAULT_FIRST_RESPONSE_MINUTES if row is None else int(row["first_response_minutes"])


def _due(since: str, minutes: int) -> str:
    return sortable_utc(datetime.fromisoformat(since) + timedelta(minutes=minutes))


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _handoff(row: dict[str, Any]) -> Handoff | None:
    if row.get("handoff_flow") is None:
        return None
    answers = json.loads(row["handoff_answers"])
    return Handoff(row["handoff_flow"], row["handoff_reason"], row["handoff_summary"], answers)


def item(row: dict[str, Any], now: datetime) -> QueueItem:
    """A row as the API shows it, its age and breach taken against ``now``."""
    now = datetime.fromisoformat(sortable_utc(now))
    opened_at = datetime.fromisoformat(row["opened_at"])
    since, due = _time(row["waiting_since"]), _time(row["sla_due_at"])
    waiting = (
        row["status"] == "open"
        and (since is not None or row["agent"] is None)
        and not row.get("bot_waiting")
    )
    return QueueItem(
        conversation_id=row["conversation_id"],
        brand_id=row["brand_id"],
        contact_id=row["contact_id"],
        status=row["status"],
        agent=row["agent"],
        team=row["team"],
        priority=int(row["priority"]),
        waiting_since=since,
        sla_due_at=due,
        last_message_at=_time(row["last_message_at"]),
        last_direction=row["last_direction"],
        opened_at=opened_at,
        position=int(row["updated_position"]),
        possible_opt_out=row.get("possible_opt_out"),
        handoff=_handoff(row),
        waiting=waiting,
        age_seconds=max(int((now - (since or opened_at)).total_seconds()), 0) if waiting else 0,
        breached=waiting and due is not None and due < now,
        mark=QueueMark(
            int(row["priority"]),
            row["waiting_since"] or row["opened_at"],
            row["conversation_id"],
        ),
    )


def waiting(
    store: ReadModelStore,
    brand_id: UUID | str,
    *,
    now: datetime,
    team: str | None = None,
    teams: tuple[str, ...] | None = None,
    agent: str | None = None,
    breached: bool | None = None,
    unassigned: bool = False,
    after: QueueMark | None = None,
    limit: int = 50,
) -> list[QueueItem]:
    """The brand's waiting conversations, most urgent first, then the longest waiting;
    with ``after``, those that come after that row in this order (the next page); with
    ``teams`` (an agent's), only those routed to one of them."""
    clauses = ["i.brand_id = %(brand_id)s", f"({WAITING})"]
    params: dict[str, Any] = {"brand_id": str(brand_id), "limit": limit, "now": sortable_utc(now)}
    if after is not None:
        clauses.append(
            f"(i.priority < %(after_priority)s OR (i.priority = %(after_priority)s AND "
            f"({SINCE} > %(after_since)s OR ({SINCE} = %(after_since)s AND "
            "i.conversation_id > %(after_id)s))))"
        )
        params.update(
            after_priority=after.priority,
            after_since=after.since,
            after_id=after.conversation_id,
        )
    for column, value in (("team", team), ("agent", agent)):
        if value is not None:
            clauses.append(f"i.{column} = %({column})s")
            params[column] = value
    if teams is not None:
        marks = ", ".join(f"%(team{i})s" for i in range(len(teams)))
        clauses.append(f"i.team IN ({marks})" if marks else "1 = 0")
        params.update({f"team{i}": name for i, name in enumerate(teams)})
    if unassigned:
        clauses.append("i.agent IS NULL")
    if breached is True:
        clauses.append("i.sla_due_at IS NOT NULL AND i.sla_due_at < %(now)s")
    elif breached is False:
        clauses.append("(i.sla_due_at IS NULL OR i.sla_due_at >= %(now)s)")
    sql = (
        f"SELECT {_WITH_FLAGS} WHERE " + " AND ".join(clauses) + " "
        f"ORDER BY i.priority DESC, {SINCE}, i.conversation_id "
        "LIMIT %(limit)s"
    )
    return [item(r, now) for r in store.query(AgentQueue(), sql, params)]


def breached_by_brand(store: ReadModelStore, now: datetime) -> list[tuple[str, int]]:
    """Per brand, the waiting conversations whose first-response SLA fell due before ``now``."""
    sql = (
        "SELECT i.brand_id, COUNT(*) AS n FROM {queue_items} i "
        f"WHERE {WAITING} AND i.sla_due_at IS NOT NULL AND i.sla_due_at < %(now)s "
        "GROUP BY i.brand_id"
    )
    rows = store.query(AgentQueue(), sql, {"now": sortable_utc(now)})
    return [(str(r["brand_id"]), int(r["n"])) for r in rows]


def agents(
    store: ReadModelStore, brand_id: UUID | str, *, only: str | None = None
) -> list[AgentLoad]:
    """Every agent with a capacity set or an open conversation, with their load."""
    projection, params = AgentQueue(), {"b": str(brand_id), "agent": only}
    extra = "" if only is None else " AND agent = %(agent)s"
    set_sql = "SELECT agent, capacity FROM {queue_agents} WHERE brand_id = %(b)s" + extra
    open_sql = (
        "SELECT agent, COUNT(*) AS n FROM {queue_items} WHERE brand_id = %(b)s "
        "AND status = 'open' AND agent IS NOT NULL" + extra + " GROUP BY agent"
    )
    capacity = {r["agent"]: int(r["capacity"]) for r in store.query(projection, set_sql, params)}
    load = {r["agent"]: int(r["n"]) for r in store.query(projection, open_sql, params)}
    names = sorted(set(capacity) | set(load) | ({only} if only else set()))
    return [AgentLoad(a, capacity.get(a, DEFAULT_AGENT_CAPACITY), load.get(a, 0)) for a in names]


def changes_since(
    store: ReadModelStore,
    brand_id: UUID | str,
    position: int,
    *,
    now: datetime,
    upto: int | None = None,
) -> list[QueueItem]:
    """Rows changed after ``position`` (and up to ``upto``), waiting or not: a stream's delta."""
    params: dict[str, Any] = {"b": str(brand_id), "p": position, "u": upto}
    sql = f"SELECT {_WITH_FLAGS} WHERE i.brand_id = %(b)s AND i.updated_position > %(p)s"
    if upto is not None:
        sql += " AND i.updated_position <= %(u)s"
    order = " ORDER BY i.updated_position, i.conversation_id"
    rows = store.query(AgentQueue(), sql + order, params)
    return [item(r, now) for r in rows]
