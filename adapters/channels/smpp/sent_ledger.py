"""Which parts of which messages the SMSC already accepted, and under which ids.

``ChannelProvider.send`` must be idempotent on ``message_id``: the dispatch hands a message
again when its outbound record is redelivered (a worker restarted before committing its
offset, a retry after a timeout that hid a success). Without this ledger a second ``send``
was a second ``submit_sm``: a second SMS on the consumer's phone, a second receipt. Each
accepted part is written here as soon as its ``submit_sm_resp`` arrives; a send finds the
parts already accepted and submits only the others (so a long message cut by a drop
half-way is completed, not sent twice).

Kept in the link's state file beside the MO parts when the link has a ``state_dir``
(``synchronous=NORMAL``: a process crash loses nothing, a power cut may lose the last
entries, i.e. at worst the duplicate this prevents); in memory otherwise. Entries older than
``keep`` are dropped when the link starts: a record is redelivered within minutes or hours.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

__all__ = ["SentLedger"]

_T = TypeVar("_T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_parts (
    message_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    smsc_id TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    PRIMARY KEY (message_id, part)
)
"""


class SentLedger:
    """One link's accepted parts; its own thread, so the event loop never waits on disk."""

    def __init__(self, path: Path | None, name: str = "smpp", keep: timedelta = timedelta(days=7)):
        self.path = path
        self.keep = keep
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-sent")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._run(self._open)

    async def accepted(self, message_id: UUID) -> dict[int, str]:
        """The parts of ``message_id`` the SMSC accepted: part index → its id."""
        rows = await self._run(
            self._read,
            "SELECT part, smsc_id FROM sent_parts WHERE message_id = ?",
            (str(message_id),),
        )
        return {int(part): str(smsc_id) for part, smsc_id in rows}

    async def record(self, message_id: UUID, part: int, smsc_id: str) -> None:
        await self._run(
            self._write,
            "INSERT OR IGNORE INTO sent_parts VALUES (?, ?, ?, ?)",
            (str(message_id), part, smsc_id, datetime.now(UTC).isoformat()),
        )

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    # On the ledger's thread

    async def _run(self, call: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def _open(self) -> None:
        if self._db is not None:
            return
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            ":memory:" if self.path is None else self.path, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        oldest = (datetime.now(UTC) - self.keep).isoformat()
        db.execute("DELETE FROM sent_parts WHERE accepted_at < ?", (oldest,))
        db.commit()
        self._db = db

    def _read(self, statement: str, values: tuple[object, ...]) -> list[tuple[Any, ...]]:
        return list(self._connection().execute(statement, values))

    def _write(self, statement: str, values: tuple[object, ...]) -> None:
        db = self._connection()
        db.execute(statement, values)
        db.commit()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the SMPP sent ledger is not open")
        return self._db
