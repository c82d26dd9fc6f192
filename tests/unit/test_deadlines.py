"""The deadline scheduler against a fake read model and a recording bus: what it hands on,
where, and how often."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from chainon.adapters.bus.port import BusUnavailable, Outgoing
from chainon.deadlines import DeadlineScheduler
from chainon.domain import commands as cmd
from chainon.projections.deadline_queries import DueDeadline
from chainon.topic_records import INBOUND, read
from chainon.topics import Topics

pytestmark = pytest.mark.asyncio
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPICS = Topics("chainon")


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[Outgoing] = []
        self.down = False

    async def publish(self, records: Sequence[Outgoing]) -> None:
        if self.down:
            raise BusUnavailable("broker down")
        self.published.extend(records)


class Table:
    """The projection's rows, and the ``now`` each query was asked at."""

    def __init__(self, *rows: DueDeadline) -> None:
        self.rows = list(rows)
        self.asked: list[datetime] = []

    def due(self, now: datetime, limit: int) -> list[DueDeadline]:
        self.asked.append(now)
        return [r for r in sorted(self.rows, key=lambda r: r.deadline) if r.deadline <= now][:limit]


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def deadline(minutes: int = 0) -> DueDeadline:
    return DueDeadline(uuid4(), uuid4(), T0 + timedelta(minutes=minutes))


def scheduler(table: Table, bus: RecordingBus, tick: list[float], **options: Any) -> Any:
    return DeadlineScheduler(
        table.due,
        direct,
        bus,  # type: ignore[arg-type]
        TOPICS,
        interval=0.01,
        resubmit_after=5.0,
        clock=lambda: T0,
        monotonic=lambda: tick[0],
        **options,
    )


async def test_a_due_deadline_becomes_a_command_on_the_inbound_topic() -> None:
    first, second = deadline(-1), deadline(0)
    table, bus, tick = Table(first, second, deadline(+1)), RecordingBus(), [100.0]
    assert await scheduler(table, bus, tick).step() == 2
    assert table.asked == [T0]  # the scheduler's own clock decides what is due
    assert [r.topic for r in bus.published] == [TOPICS.inbound] * 2
    # Keyed by conversation: in order with the revocation's answer and the other records.
    assert [r.key for r in bus.published] == [
        str(first.conversation_id),
        str(second.conversation_id),
    ]
    commands = [read(INBOUND, r.value) for r in bus.published]
    assert commands == [
        cmd.EnforceFallbackDeadline(conversation_id=d.conversation_id, message_id=d.message_id)
        for d in (first, second)
    ]
    assert not any(c.now for c in commands)  # the core still checks the deadline itself


async def test_one_deadline_is_not_handed_on_again_until_the_core_had_time() -> None:
    table, bus, tick = Table(deadline()), RecordingBus(), [100.0]
    s = scheduler(table, bus, tick)
    assert await s.step() == 1
    tick[0] += 4.9
    assert await s.step() == 0  # still in the read model: the core has not answered yet
    tick[0] += 0.1
    assert await s.step() == 1  # lost, or the core was slow: once more, which is harmless
    assert len(bus.published) == 2


async def test_a_new_scheduler_hands_on_at_once_what_is_still_due() -> None:
    """Its memory is only a brake: a restart forgets it, and the read model still has all."""
    table, bus, tick = Table(deadline()), RecordingBus(), [100.0]
    await scheduler(table, bus, tick).step()
    assert await scheduler(table, bus, tick).step() == 1
    assert len(bus.published) == 2


async def test_a_failed_publish_is_retried_at_the_next_poll() -> None:
    table, bus, tick = Table(deadline()), RecordingBus(), [100.0]
    s = scheduler(table, bus, tick)
    bus.down = True
    with pytest.raises(BusUnavailable):
        await s.step()
    bus.down = False
    assert await s.step() == 1


async def test_what_left_the_read_model_is_forgotten() -> None:
    handled = deadline()
    table, bus, tick = Table(handled), RecordingBus(), [100.0]
    s = scheduler(table, bus, tick)
    await s.step()
    table.rows = []  # RevocationRequested reached the projection
    await s.step()
    assert s.submitted == {}


async def test_a_backlog_goes_in_batches_the_oldest_first() -> None:
    rows = [deadline(-m) for m in range(5)]
    table, bus, tick = Table(*rows), RecordingBus(), [100.0]
    s = scheduler(table, bus, tick, batch=2)
    assert await s.step() == 2
    oldest = sorted(rows, key=lambda r: r.deadline)
    assert [r.key for r in bus.published] == [str(r.conversation_id) for r in oldest[:2]]
    table.rows = oldest[2:]  # the core took the first two
    assert await s.step() == 2
    assert [r.key for r in bus.published[2:]] == [str(r.conversation_id) for r in oldest[2:4]]


async def test_run_polls_until_stopped() -> None:
    table, bus, tick = Table(deadline()), RecordingBus(), [100.0]
    s = scheduler(table, bus, tick)
    stopping = asyncio.Event()
    task = asyncio.create_task(s.run(stopping))
    await asyncio.sleep(0.1)
    stopping.set()
    await asyncio.wait_for(task, 1.0)
    assert len(table.asked) >= 3
    assert len(bus.published) == 1
