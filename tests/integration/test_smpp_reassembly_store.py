from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chainon.adapters.channels.smpp.codec import Concat
from chainon.adapters.channels.smpp.reassembly import GAP_MARKER
from chainon.adapters.channels.smpp.reassembly_store import PartStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ALICE, BOB, BRAND = "+33612345678", "+33700000000", "+33939000000"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "smpp" / "smpp-main.sqlite3"  # the directory does not exist yet


@pytest.fixture
async def store(path: Path) -> AsyncIterator[PartStore]:
    store = PartStore(path)
    await store.open()
    yield store
    await store.close()


async def reopened(path: Path) -> PartStore:
    store = PartStore(path)
    await store.open()
    return store


async def test_kept_parts_come_back_after_a_restart_and_complete_the_message(
    store: PartStore, path: Path
) -> None:
    await store.keep(ALICE, BRAND, Concat(7, 3, 3), "!", T0 + timedelta(seconds=2))
    await store.keep(ALICE, BRAND, Concat(7, 3, 1), "Hello ", T0)
    await store.close()

    again = PartStore(path)
    try:
        reassembler = await again.open()
        done = reassembler.add(ALICE, BRAND, Concat(7, 3, 2), "world", T0 + timedelta(minutes=1))
    finally:
        await again.close()
    assert done is not None
    assert (done.text, done.complete, done.first_at) == ("Hello world!", True, T0)


async def test_a_copy_of_a_kept_part_changes_nothing(store: PartStore) -> None:
    await store.keep(ALICE, BRAND, Concat(7, 2, 1), "first copy ", T0)
    await store.keep(ALICE, BRAND, Concat(7, 2, 1), "second copy ", T0 + timedelta(seconds=1))
    done = (await store.load()).add(ALICE, BRAND, Concat(7, 2, 2), "end", T0)
    assert done is not None
    assert done.text == "first copy end"


async def test_a_forgotten_message_leaves_the_others(store: PartStore, path: Path) -> None:
    await store.keep(ALICE, BRAND, Concat(7, 2, 1), "alice ", T0)
    await store.keep(BOB, BRAND, Concat(7, 2, 1), "bob ", T0)
    await store.keep(ALICE, BRAND, Concat(7, 3, 1), "alice again ", T0)  # other total
    done = (await store.load()).add(ALICE, BRAND, Concat(7, 2, 2), "done", T0)
    assert done is not None
    await store.forget(done)
    await store.close()

    again = await reopened(path)
    try:
        left = (await again.load()).expire(T0 + timedelta(hours=1), timedelta(minutes=5))
    finally:
        await again.close()
    assert sorted((c.sender, c.text) for c in left) == [
        (ALICE, f"alice again {GAP_MARKER}"),
        (BOB, f"bob {GAP_MARKER}"),
    ]


async def test_an_expired_message_is_forgotten_once_delivered(store: PartStore) -> None:
    await store.keep(ALICE, BRAND, Concat(9, 4, 2), "B", T0)
    (partial,) = (await store.load()).expire(T0 + timedelta(minutes=6), timedelta(minutes=5))
    assert partial.text == f"{GAP_MARKER}B{GAP_MARKER}"
    await store.forget(partial)
    assert len(await store.load()) == 0


async def test_a_part_is_committed_when_keep_returns(store: PartStore, path: Path) -> None:
    """What another connection reads is what a crash right after ``keep`` would leave."""
    await store.keep(ALICE, BRAND, Concat(7, 2, 1), "safe", T0)
    with closing(sqlite3.connect(path)) as other:
        assert other.execute("SELECT text FROM mo_parts").fetchall() == [("safe",)]
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_without_a_path_the_parts_live_in_memory() -> None:
    store = PartStore(None)
    try:
        assert len(await store.open()) == 0
        await store.keep(ALICE, BRAND, Concat(7, 2, 1), "a", T0)
        assert len(await store.load()) == 1
    finally:
        await store.close()
