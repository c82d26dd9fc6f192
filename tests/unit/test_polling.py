"""A follower wakes when told the log moved, instead of sleeping out its poll interval."""

from __future__ import annotations

import asyncio

from chainon.polling import follow

LONG_POLL = 30.0  # far longer than the test may take: only a wake can explain a prompt step


async def test_a_wake_ends_the_idle_wait_and_the_next_step_runs() -> None:
    stopping, wake = asyncio.Event(), asyncio.Event()
    steps: list[int] = []
    stepped = asyncio.Event()

    async def step() -> int:
        steps.append(len(steps))
        stepped.set()
        return 0  # nothing found: the follower goes idle for LONG_POLL

    task = asyncio.create_task(
        follow(step, stopping, name="test", fastest=LONG_POLL, slowest=LONG_POLL, wake=wake)
    )
    await asyncio.wait_for(stepped.wait(), timeout=5)
    assert steps == [0]
    stepped.clear()
    wake.set()
    await asyncio.wait_for(stepped.wait(), timeout=5)  # not LONG_POLL
    assert steps == [0, 1]
    stopping.set()
    await asyncio.wait_for(task, timeout=5)


async def test_without_a_wake_it_waits_for_its_poll() -> None:
    stopping = asyncio.Event()
    steps: list[int] = []

    async def step() -> int:
        steps.append(1)
        return 0

    task = asyncio.create_task(
        follow(step, stopping, name="test", fastest=LONG_POLL, slowest=LONG_POLL)
    )
    await asyncio.sleep(0.3)
    assert steps == [1]
    stopping.set()  # the stop ends the wait at once
    await asyncio.wait_for(task, timeout=5)


async def test_woken_it_lingers_so_that_wakes_close_together_make_one_step() -> None:
    """Three saves within the linger: one step reads them all, not three."""
    stopping, wake = asyncio.Event(), asyncio.Event()
    steps: list[int] = []
    stepped = asyncio.Event()

    async def step() -> int:
        steps.append(len(steps))
        stepped.set()
        return 0

    task = asyncio.create_task(
        follow(
            step,
            stopping,
            name="test",
            fastest=LONG_POLL,
            slowest=LONG_POLL,
            wake=wake,
            linger=0.5,
        )
    )
    await asyncio.wait_for(stepped.wait(), timeout=5)
    stepped.clear()
    for _ in range(3):  # well within the half-second linger
        wake.set()
        await asyncio.sleep(0.01)
    await asyncio.wait_for(stepped.wait(), timeout=5)
    await asyncio.sleep(0.1)  # a second step would have run by now if each wake made one
    assert steps == [0, 1]
    stopping.set()
    await asyncio.wait_for(task, timeout=5)
