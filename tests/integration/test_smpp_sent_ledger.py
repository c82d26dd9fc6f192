"""The SMPP link's state file: its sent ledger, beside the MO parts, in a real SQLite file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from chainon.adapters.channels.smpp.codec import Concat
from chainon.adapters.channels.smpp.reassembly_store import PartStore
from chainon.adapters.channels.smpp.sent_ledger import SentLedger


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "smpp" / "smpp-main.sqlite3"  # the directory does not exist yet


async def test_accepted_parts_outlive_the_process_until_they_are_older_than_keep(
    path: Path,
) -> None:
    recent, old = uuid4(), uuid4()
    ledger = SentLedger(path)
    await ledger.open()
    await ledger.record(recent, 0, "smsc-1")
    await ledger.record(recent, 1, "smsc-2")
    await ledger.record(old, 0, "smsc-0")
    await ledger.close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "UPDATE sent_parts SET accepted_at = ? WHERE message_id = ?",
            ((datetime.now(UTC) - timedelta(days=8)).isoformat(), str(old)),
        )

    again = SentLedger(path, keep=timedelta(days=7))
    await again.open()
    try:
        assert await again.accepted(recent) == {0: "smsc-1", 1: "smsc-2"}
        assert await again.accepted(old) == {}
    finally:
        await again.close()


async def test_the_ledger_and_the_mo_parts_share_the_link_state_file(path: Path) -> None:
    parts, ledger = PartStore(path), SentLedger(path)
    await parts.open()
    await ledger.open()
    message = uuid4()
    try:
        await parts.keep("+33612345678", "+33939000000", Concat(7, 2, 1), "Bon", datetime.now(UTC))
        await ledger.record(message, 0, "smsc-1")
    finally:
        await ledger.close()
        await parts.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM mo_parts").fetchone() == (1,)
        assert db.execute("SELECT smsc_id FROM sent_parts").fetchall() == [("smsc-1",)]


async def test_a_ledger_not_open_says_so() -> None:
    ledger = SentLedger(None)
    with pytest.raises(RuntimeError, match="sent ledger is not open"):
        await ledger.record(uuid4(), 0, "smsc-1")
    await ledger.close()
