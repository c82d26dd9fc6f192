"""The agent queue read model, fed hand-made facts through a real SQLite read-model store."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from chainon.projections.agent_queue import AgentQueue, agents, changes_since, waiting
from chainon.projections.projection import Fact
from chainon.projections.sqlite import SQLiteReadModels

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
BRAND = str(uuid4())


class Facts:
    """Writes facts as the relay would: per-aggregate versions, one global position."""

    def __init__(self) -> None:
        self.position = 0
        self.versions: dict[str, int] = defaultdict(int)
        self.all: list[Fact] = []

    def __call__(self, kind: str, aggregate_id: str, minute: float, **data: Any) -> Fact:
        self.position += 1
        self.versions[aggregate_id] += 1
        fact = Fact(
            type=kind,
            aggregate_id=aggregate_id,
            aggregate_version=self.versions[aggregate_id],
            position=self.position,
            timestamp=T0 + timedelta(minutes=minute),
            data=data,
        )
        self.all.append(fact)
        return fact

    def brand(self, minute: float = 0) -> Fact:
        return self("Brand.Registered", BRAND, minute, slug="maison", name="Maison")

    def opened(self, minute: float) -> str:
        cid = str(uuid4())
        self("Conversation.Opened", cid, minute, brand_id=BRAND, contact_id=str(uuid4()), number=1)
        return cid

    def inbound(self, cid: str, minute: float) -> Fact:
        return self("Conversation.MessageReceived", cid, minute, message_id=str(uuid4()))

    def outbound(self, cid: str, minute: float) -> Fact:
        return self("Conversation.MessageQueued", cid, minute, message_id=str(uuid4()))

    def assigned(self, cid: str, minute: float, agent: str | None, team: str | None = None) -> Fact:
        return self("Conversation.Assigned", cid, minute, agent=agent, team=team)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteReadModels:
    store = SQLiteReadModels(tmp_path / "v.sqlite3")
    store.create(AgentQueue())
    return store


@pytest.fixture
def facts() -> Facts:
    facts = Facts()
    facts.brand()
    return facts


def feed(store: SQLiteReadModels, facts: Facts) -> None:
    store.apply(AgentQueue(), facts.all)


def ids(store: SQLiteReadModels, now: datetime, **filters: Any) -> list[str]:
    return [i.conversation_id for i in waiting(store, BRAND, now=now, **filters)]


def test_an_inbound_message_waits_until_it_is_answered(
    store: SQLiteReadModels, facts: Facts
) -> None:
    cid = facts.opened(1)
    facts.inbound(cid, 1)
    facts.assigned(cid, 2, "camille")
    feed(store, facts)
    (row,) = waiting(store, BRAND, now=T0 + timedelta(minutes=11))
    assert row.waiting_since == T0 + timedelta(minutes=1)
    assert row.sla_due_at == T0 + timedelta(minutes=61)  # the default 60 minutes
    assert (row.age_seconds, row.breached, row.agent) == (600, False, "camille")

    facts.outbound(cid, 5)
    feed(store, facts)
    assert ids(store, T0 + timedelta(minutes=6)) == []  # answered, and someone has it
    (row,) = changes_since(store, BRAND, 0, now=T0)
    assert (row.waiting, row.waiting_since, row.sla_due_at, row.last_direction) == (
        False,
        None,
        None,
        "outbound",
    )

    facts.inbound(cid, 20)
    facts.inbound(cid, 25)  # a second message does not restart the clock
    feed(store, facts)
    (row,) = waiting(store, BRAND, now=T0 + timedelta(minutes=30))
    assert row.waiting_since == T0 + timedelta(minutes=20)
    assert row.sla_due_at == T0 + timedelta(minutes=80)
    assert row.last_message_at == T0 + timedelta(minutes=25)


def test_an_automatic_reply_starts_no_clock(store: SQLiteReadModels, facts: Facts) -> None:
    cid = facts.opened(1)
    facts.assigned(cid, 1, "camille")
    facts.outbound(cid, 2)  # camille writes
    auto = str(uuid4())
    facts("Conversation.MessageReceived", cid, 3, message_id=auto, automatic=True)
    feed(store, facts)
    assert ids(store, T0 + timedelta(minutes=90)) == []  # an out-of-office waits for nobody
    (row,) = changes_since(store, BRAND, 0, now=T0)
    assert (row.waiting_since, row.sla_due_at) == (None, None)
    assert (row.last_message_at, row.last_direction) == (T0 + timedelta(minutes=3), "inbound")

    facts.inbound(cid, 10)  # the consumer herself: the clock starts now
    facts("Conversation.MessageReceived", cid, 12, message_id=str(uuid4()), automatic=True)
    feed(store, facts)
    (row,) = waiting(store, BRAND, now=T0 + timedelta(minutes=20))
    assert (row.waiting_since, row.sla_due_at) == (
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=70),
    )


def test_an_unassigned_conversation_waits_even_when_answered(
    store: SQLiteReadModels, facts: Facts
) -> None:
    cid = facts.opened(1)
    facts.outbound(cid, 1)  # the brand wrote first
    feed(store, facts)
    (row,) = waiting(store, BRAND, now=T0 + timedelta(minutes=3))
    assert (row.conversation_id, row.waiting_since, row.sla_due_at) == (cid, None, None)
    assert (row.age_seconds, row.breached) == (120, False)  # counted from the opening

    facts("Conversation.Resolved", cid, 4, by="api")
    feed(store, facts)
    assert ids(store, T0 + timedelta(minutes=5)) == []
    facts("Conversation.Reopened", cid, 6, reason="x")
    feed(store, facts)
    assert ids(store, T0 + timedelta(minutes=7)) == [cid]


def test_the_sla_follows_the_brand_and_breaches_against_the_given_now(
    store: SQLiteReadModels, facts: Facts
) -> None:
    facts("Brand.QueueConfigured", BRAND, 0, first_response_minutes=30)
    early, late = facts.opened(1), facts.opened(2)
    facts.inbound(early, 1)
    facts.inbound(late, 20)
    feed(store, facts)
    rows = waiting(store, BRAND, now=T0 + timedelta(minutes=40))
    assert [r.sla_due_at for r in rows] == [T0 + timedelta(minutes=31), T0 + timedelta(minutes=50)]
    assert [r.breached for r in rows] == [True, False]
    assert ids(store, T0 + timedelta(minutes=40), breached=True) == [early]
    assert ids(store, T0 + timedelta(minutes=40), breached=False) == [late]

    facts("Brand.QueueConfigured", BRAND, 41, first_response_minutes=10)
    feed(store, facts)
    rows = waiting(store, BRAND, now=T0 + timedelta(minutes=40))
    assert [r.sla_due_at for r in rows] == [T0 + timedelta(minutes=11), T0 + timedelta(minutes=30)]
    assert [r.breached for r in rows] == [True, True]
    # The recomputed rows reach a stream that already saw the messages.
    moved = changes_since(store, BRAND, facts.position - 1, now=T0)
    assert sorted(r.conversation_id for r in moved) == sorted([early, late])


def test_order_is_priority_first_then_the_longest_waiting(
    store: SQLiteReadModels, facts: Facts
) -> None:
    oldest, middle, newest = facts.opened(1), facts.opened(2), facts.opened(3)
    for minute, cid in enumerate((oldest, middle, newest), start=1):
        facts.inbound(cid, minute)
    facts("Conversation.Prioritized", newest, 4, priority=2)
    facts.assigned(middle, 5, None, "billing")
    feed(store, facts)
    now = T0 + timedelta(minutes=10)
    assert ids(store, now) == [newest, oldest, middle]
    assert ids(store, now, team="billing") == [middle]
    assert ids(store, now, limit=1) == [newest]


def test_agents_count_their_open_conversations_against_their_capacity(
    store: SQLiteReadModels, facts: Facts
) -> None:
    facts("Brand.AgentCapacitySet", BRAND, 0, agent="camille", capacity=2)
    facts("Brand.AgentCapacitySet", BRAND, 0, agent="idle", capacity=3)
    a, b, c = facts.opened(1), facts.opened(1), facts.opened(1)
    facts.assigned(a, 2, "camille")
    facts.assigned(b, 2, "camille")
    facts.assigned(c, 2, "louis")
    facts("Conversation.Resolved", b, 3, by="camille")
    feed(store, facts)
    loads = {(x.agent, x.capacity, x.open) for x in agents(store, BRAND)}
    assert loads == {("camille", 2, 1), ("idle", 3, 0), ("louis", 5, 1)}
    (stranger,) = agents(store, BRAND, only="nobody")
    assert (stranger.capacity, stranger.open, stranger.at_capacity) == (5, 0, False)
    facts.assigned(c, 4, "camille")
    feed(store, facts)
    (camille,) = agents(store, BRAND, only="camille")
    assert camille.at_capacity
    assert ids(store, T0 + timedelta(minutes=5), agent="camille") == []


def test_replaying_the_same_facts_changes_nothing(
    store: SQLiteReadModels, facts: Facts, tmp_path: Path
) -> None:
    cid = facts.opened(1)
    facts.inbound(cid, 1)
    facts("Brand.QueueConfigured", BRAND, 2, first_response_minutes=15)
    facts.assigned(cid, 3, "camille", "support")
    facts("Brand.AgentCapacitySet", BRAND, 4, agent="camille", capacity=1)
    feed(store, facts)
    with store.transaction() as cur:
        before = store.dump_in(cur, AgentQueue())
    assert store.apply(AgentQueue(), facts.all) == 0
    feed(store, facts)
    with store.transaction() as cur:
        assert store.dump_in(cur, AgentQueue()) == before
    # And a fresh store built from the same facts holds the same rows: no clock inside.
    other = SQLiteReadModels(tmp_path / "again.sqlite3")
    other.create(AgentQueue())
    for fact in facts.all:
        other.apply(AgentQueue(), [fact])
    with other.transaction() as cur:
        assert other.dump_in(cur, AgentQueue()) == before
