"""The pending fallback deadlines, from hand-made facts through a real SQLite read-model store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from chainon.projections.fallback_deadlines import FallbackDeadlines, due, pending
from chainon.projections.projection import Fact
from chainon.projections.sqlite import SQLiteReadModels

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENDS = (
    "MessageDelivered",
    "MessageFailed",
    "MessageExpired",
    "RevocationRequested",
    "FallbackTriggered",
)


class Story:
    """Facts as the store records them: versions per conversation, positions growing."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.versions: dict[str, int] = {}

    def add(self, cid: UUID, kind: str, **data: Any) -> Fact:
        key = str(cid)
        self.versions[key] = self.versions.get(key, 0) + 1
        fact = Fact(
            type=f"Conversation.{kind}",
            aggregate_id=key,
            aggregate_version=self.versions[key],
            position=len(self.facts) + 1,
            timestamp=T0,
            data=data,
        )
        self.facts.append(fact)
        return fact

    def plan(self, cid: UUID, deadline: datetime | str) -> UUID:
        mid = uuid4()
        at = deadline if isinstance(deadline, str) else deadline.isoformat()
        self.add(cid, "FallbackPlanned", message_id=str(mid), channel="sms", deadline=at)
        return mid

    def end(self, cid: UUID, mid: UUID | None, kind: str) -> None:
        data: dict[str, Any] = {"message_id": None if mid is None else str(mid)}
        if kind == "MessageFailed":
            data["reason"] = "not_capable"
        if kind == "FallbackTriggered":
            data.update(reason="deadline", channel="sms", replacement_id=str(uuid4()))
        self.add(cid, kind, **data)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteReadModels]:
    s = SQLiteReadModels(tmp_path / "views.sqlite3")
    s.ensure_positions()
    s.create(FallbackDeadlines())
    yield s
    s.close()


def play(store: SQLiteReadModels, story: Story) -> None:
    store.apply(FallbackDeadlines(), story.facts)


def test_a_deadline_is_due_from_its_moment_on_not_before(store: SQLiteReadModels) -> None:
    story, cid = Story(), uuid4()
    mid = story.plan(cid, T0 + timedelta(minutes=10))
    play(store, story)
    assert due(store, T0 + timedelta(minutes=10) - timedelta(microseconds=1)) == []
    (found,) = due(store, T0 + timedelta(minutes=10))
    assert (found.conversation_id, found.message_id) == (cid, mid)
    assert found.deadline == T0 + timedelta(minutes=10)
    assert pending(store) == 1


def test_the_longest_overdue_come_first_and_the_limit_holds(store: SQLiteReadModels) -> None:
    story = Story()
    late = story.plan(uuid4(), T0 + timedelta(minutes=3))
    early = story.plan(uuid4(), T0 + timedelta(minutes=1))
    middle = story.plan(uuid4(), T0 + timedelta(minutes=2))
    story.plan(uuid4(), T0 + timedelta(hours=1))  # not due yet
    play(store, story)
    now = T0 + timedelta(minutes=30)
    assert [d.message_id for d in due(store, now)] == [early, middle, late]
    assert [d.message_id for d in due(store, now, limit=2)] == [early, middle]


def test_deadlines_in_other_offsets_compare_as_instants(store: SQLiteReadModels) -> None:
    """Text comparison would put 10:30+02:00 (08:30 UTC) after 09:00Z: times are kept in UTC."""
    story = Story()
    paris = timezone(timedelta(hours=2))
    before = story.plan(uuid4(), datetime(2026, 3, 2, 10, 30, tzinfo=paris))
    after = story.plan(uuid4(), "2026-03-02T09:30:00Z")
    play(store, story)
    assert [d.message_id for d in due(store, T0)] == [before]
    assert [d.message_id for d in due(store, T0 + timedelta(hours=1))] == [before, after]


@pytest.mark.parametrize("kind", ENDS)
def test_what_ends_the_wait_takes_the_deadline_away(store: SQLiteReadModels, kind: str) -> None:
    story, cid = Story(), uuid4()
    ended = story.plan(cid, T0)
    kept = story.plan(cid, T0)
    story.end(cid, ended, kind)
    play(store, story)
    assert [d.message_id for d in due(store, T0 + timedelta(days=1))] == [kept]


def test_a_fallback_that_names_no_message_takes_nothing_away(store: SQLiteReadModels) -> None:
    story, cid = Story(), uuid4()
    mid = story.plan(cid, T0)
    story.end(cid, None, "FallbackTriggered")  # a contact known not to take RCS
    play(store, story)
    assert [d.message_id for d in due(store, T0)] == [mid]


def test_a_batch_delivered_again_does_not_bring_a_deadline_back(store: SQLiteReadModels) -> None:
    story, cid = Story(), uuid4()
    mid = story.plan(cid, T0)
    play(store, story)
    story.end(cid, mid, "RevocationRequested")
    store.apply(FallbackDeadlines(), story.facts[-1:])
    store.apply(FallbackDeadlines(), story.facts)  # a crashed runner's batches, again
    assert due(store, T0 + timedelta(days=1)) == []
    assert pending(store) == 0
