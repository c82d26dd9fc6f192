"""The loop of everything that follows a log by polling (the relay, the views' store feed).

SQLite cannot notify, so followers poll: at once again while they find work, a little
longer each time they find none, and at the slowest pace after a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def follow(
    step: Callable[[], Awaitable[int]],
    stopping: asyncio.Event,
    *,
    name: str,
    fastest: float,
    slowest: float = 1.0,
    wake: asyncio.Event | None = None,
    linger: float = 0.0,
) -> None:
    """Runs ``step`` (which returns how much it did) until ``stopping`` is set.

    ``wake``, set by whoever knows the log moved (the core of this process after a save),
    ends an idle wait at once: the poll is then only the fallback for writers elsewhere.
    Woken from idle, it waits ``linger`` more before the step, so that what is saved
    within that time is read and applied together: at a steady rate each save woke it for
    a message or two, and the batches' fixed cost then took whatever CPU was left.
    """
    idle = fastest
    waits = [stopping] if wake is None else [stopping, wake]
    while not stopping.is_set():
        if wake is not None:
            wake.clear()  # what it announced, the step below is about to read
        try:
            done = await step()
        except Exception as exc:  # a follower must outlive a failed batch; it retries
            log.warning("follower.failed", follower=name, error=repr(exc))
            done, idle = 0, slowest
        if done:
            idle = fastest
            continue
        woken = await _first_of(waits, idle)
        idle = fastest if woken else min(idle * 1.5, slowest)
        if woken and linger > 0:
            await asyncio.sleep(linger)


async def _first_of(events: list[asyncio.Event], timeout: float) -> bool:
    """Waits until one of the events is set or the time is up; True if one was set."""
    if any(e.is_set() for e in events):
        return True
    waiting = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiting:
            task.cancel()
    return bool(done)
