"""PostgreSQL's LISTEN/NOTIFY as a doorbell between the process that saves events and the
ones that follow the store (the relay, the webhooks' outbox) in processes of their own.

Without it a follower in another process finds new events by polling, and its idle poll
grows to a second: at a low, steady rate most events waited for that timer. The bell
carries no data and promises nothing: a ring lost (the connection dropped, the follower
restarting) only means the next poll finds the events, as before. So ringing never raises
and never blocks a save for long, and listening reconnects on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

import psycopg
import structlog

log = structlog.get_logger(__name__)

RECONNECT_SECONDS = 1.0


def channel_of(schema: str) -> str:
    """One channel per schema: deployments sharing a server do not wake each other."""
    return f"chainon_saved_{schema}"[:63]  # PostgreSQL's identifier limit


class Ringer:
    """Rings after each save, on the saving thread, over a connection of its own."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.channel = channel_of(schema)
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._lock = threading.Lock()
        self.failures = 0

    def ring(self) -> None:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
                self._conn.execute("SELECT pg_notify(%s, '')", (self.channel,))
            except psycopg.Error as exc:  # the followers' poll finds the events
                self.failures += 1
                log.warning("store_bell.ring_failed", error=repr(exc))
                self.close_locked()

    def close(self) -> None:
        with self._lock:
            self.close_locked()

    def close_locked(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


async def listen(
    dsn: str,
    schema: str,
    rung: Callable[[], None],
    stopping: asyncio.Event,
    *,
    listening: Callable[[], None] | None = None,
) -> None:
    """Calls ``rung`` at each ring until ``stopping`` is set; ``listening`` once LISTEN is
    in place (each time it is again, after a reconnection)."""
    channel = channel_of(schema)
    while not stopping.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5)
        except (psycopg.Error, OSError) as exc:
            log.warning("store_bell.listen_failed", error=repr(exc))
            await _pause(stopping)
            continue
        try:
            await conn.execute(f'LISTEN "{channel}"')
            if listening is not None:
                listening()
            rung()  # what was saved while no one listened is looked for now
            await _rings(conn, rung, stopping)
        except (psycopg.Error, OSError) as exc:
            log.warning("store_bell.listen_failed", error=repr(exc))
            await _pause(stopping)
        finally:
            await conn.close()


async def _rings(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    rung: Callable[[], None],
    stopping: asyncio.Event,
) -> None:
    """Until a stop, or the connection's end (raised, or returned to reconnect)."""

    async def consume() -> None:
        async for _ in conn.notifies():
            rung()

    consuming = asyncio.ensure_future(consume())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        done, _ = await asyncio.wait({consuming, stop}, return_when=asyncio.FIRST_COMPLETED)
        if consuming in done:
            consuming.result()
    finally:
        consuming.cancel()
        stop.cancel()


async def _pause(stopping: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), RECONNECT_SECONDS)
