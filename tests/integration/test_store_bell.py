"""The store's doorbell on PostgreSQL: a save rings, the followers of the same schema in
other processes' shoes wake, others do not, and a bell that cannot ring never fails a save."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from chainon.adapters.persistence.postgres_bell import Ringer, channel_of, listen
from tests.conftest import fresh_schema

WITHIN = 10.0  # generous: this is about whether the ring arrives, not how fast


class Listener:
    def __init__(self) -> None:
        self.rings = 0
        self.rung = asyncio.Event()
        self.listening = asyncio.Event()

    def ring(self) -> None:
        self.rings += 1
        self.rung.set()


@contextlib.asynccontextmanager
async def listening(dsn: str, schema: str) -> AsyncIterator[Listener]:
    heard, stopping = Listener(), asyncio.Event()
    task = asyncio.create_task(
        listen(dsn, schema, heard.ring, stopping, listening=heard.listening.set)
    )
    try:
        await asyncio.wait_for(heard.listening.wait(), WITHIN)
        await asyncio.wait_for(heard.rung.wait(), WITHIN)  # the look on (re)connecting
        heard.rung.clear()
        heard.rings = 0
        yield heard
    finally:
        stopping.set()
        await asyncio.wait_for(task, WITHIN)  # a stop ends the listener without a ring


async def test_a_ring_wakes_the_listeners_of_its_schema_only(postgres_dsn: str) -> None:
    mine, theirs = fresh_schema(postgres_dsn), fresh_schema(postgres_dsn)
    ringer = Ringer(postgres_dsn, mine)
    try:
        async with listening(postgres_dsn, mine) as heard, listening(postgres_dsn, theirs) as other:
            await asyncio.to_thread(ringer.ring)
            await asyncio.wait_for(heard.rung.wait(), WITHIN)
            heard.rung.clear()
            await asyncio.to_thread(ringer.ring)  # the same connection rings again
            await asyncio.wait_for(heard.rung.wait(), WITHIN)
            await asyncio.sleep(0.3)
            assert heard.rings == 2
            assert other.rings == 0
    finally:
        ringer.close()
    assert ringer.failures == 0


def test_a_bell_that_cannot_ring_does_not_fail_the_save(postgres_dsn: str) -> None:
    nowhere = "postgresql://chainon@127.0.0.1:1/chainon"  # nothing listens on port 1
    ringer = Ringer(nowhere, "public")
    ringer.ring()  # does not raise: the followers' poll finds the events
    ringer.ring()
    assert ringer.failures == 2


def test_the_channel_is_a_valid_identifier_for_any_schema_name() -> None:
    assert channel_of("public") == "chainon_saved_public"
    assert len(channel_of("s" * 200)) == 63


async def test_a_listener_comes_back_after_its_connection_is_killed(postgres_dsn: str) -> None:
    import psycopg

    schema = fresh_schema(postgres_dsn)
    ringer = Ringer(postgres_dsn, schema)
    try:
        async with listening(postgres_dsn, schema) as heard:
            heard.listening.clear()
            with psycopg.connect(postgres_dsn, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query = %s AND pid <> pg_backend_pid()",
                    (f'LISTEN "{channel_of(schema)}"',),
                )
            await asyncio.wait_for(heard.listening.wait(), WITHIN)  # reconnected
            heard.rung.clear()
            await asyncio.to_thread(ringer.ring)
            await asyncio.wait_for(heard.rung.wait(), WITHIN)
    finally:
        ringer.close()
