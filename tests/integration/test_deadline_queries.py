"""The three deadline tables the schedulers read (fallback, receipt, release of a deferred
message) answer ``due`` and ``pending`` alike, through a real SQLite read-model store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from uuid import UUID, uuid4

import pytest

from chainon.projections import deferred_messages, fallback_deadlines, receipt_deadlines
from chainon.projections.deadline_queries import DueDeadline
from chainon.projections.projection import Fact, Projection
from chainon.projections.sqlite import SQLiteReadModels

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

Starts = Callable[[UUID, str], tuple[str, dict[str, object]]]

TABLES: dict[str, tuple[ModuleType, Projection, Starts]] = {
    "fallback": (
        fallback_deadlines,
        fallback_deadlines.FallbackDeadlines(),
        lambda m, at: ("FallbackPlanned", {"message_id": str(m), "channel": "sms", "deadline": at}),
    ),
    "receipt": (
        receipt_deadlines,
        receipt_deadlines.ReceiptDeadlines(),
        lambda m, at: ("MessageSent", {"message_id": str(m), "receipt_deadline": at}),
    ),
    "release": (
        deferred_messages,
        deferred_messages.DeferredMessages(),
        lambda m, at: ("MessageDeferred", {"message_id": str(m), "release_at": at}),
    ),
}


@pytest.fixture(params=sorted(TABLES))
def table(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SQLiteReadModels, ModuleType, Projection, Starts]]:
    module, projection, starts = TABLES[request.param]
    store = SQLiteReadModels(tmp_path / "views.sqlite3")
    store.ensure_positions()
    store.create(projection)
    yield store, module, projection, starts
    store.close()


def test_due_rows_come_longest_overdue_first_within_the_limit(
    table: tuple[SQLiteReadModels, ModuleType, Projection, Starts],
) -> None:
    store, module, projection, starts = table
    conversation = uuid4()
    late, early, middle = uuid4(), uuid4(), uuid4()
    facts = []
    for position, (message, minutes) in enumerate(((late, 3), (early, 1), (middle, 2)), 1):
        kind, data = starts(message, (T0 + timedelta(minutes=minutes)).isoformat())
        facts.append(Fact(f"Conversation.{kind}", str(conversation), position, position, T0, data))
    store.apply(projection, facts)

    assert module.due(store, T0) == []
    assert module.due(store, T0 + timedelta(minutes=2)) == [
        DueDeadline(conversation, early, T0 + timedelta(minutes=1)),
        DueDeadline(conversation, middle, T0 + timedelta(minutes=2)),
    ]
    assert [d.message_id for d in module.due(store, T0 + timedelta(hours=1), 1)] == [early]
    assert module.pending(store) == 3
