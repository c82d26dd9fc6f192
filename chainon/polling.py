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
) -> None:
    """Runs ``step`` (which returns how much it did) until ``stopping`` is set."""
    idle = fastest
    while not stopping.is_set():
        try:
            done = await step()
        except Exception as exc:  # a follower must outlive a failed batch; it retries
            log.warning("follower.failed", follower=name, error=repr(exc))
            done, idle = 0, slowest
        if done:
            idle = fastest
            continue
        try:
            await asyncio.wait_for(stopping.wait(), timeout=idle)
        except TimeoutError:
            idle = min(idle * 1.5, slowest)
