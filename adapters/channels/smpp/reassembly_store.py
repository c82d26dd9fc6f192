"""The parts of concatenated MO messages still waiting for their siblings, kept in SQLite.

A part answered with ``deliver_sm_resp`` is never sent again by the SMSC, so it must outlive
the process that answered it: each part is committed here before its answer goes out, and
read back into a ``Reassembler`` when the link starts again. One row per part (not the whole
state at once), so a write stays one small insert however many messages are pending.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from adapters.channels.smpp.codec import Concat
from adapters.channels.smpp.reassembly import Completed, Reassembler

__all__ = ["PartStore"]

_T = TypeVar("_T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS mo_parts (
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    reference INTEGER NOT NULL,
    total INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    text TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (sender, recipient, reference, total, sequence)
)
"""


class PartStore:
    """One link's pending MO parts: in ``path``, or in memory when ``path`` is None.

    The in-memory store behaves the same, so the link has one way of working whether or not
    it was given a directory; only a restart tells them apart.

    Every call runs on a thread of the store's own rather than on the event loop: a commit
    here waits for an fsync (``synchronous=FULL``, since the SMSC is told the part is safe
    right after), which takes milliseconds on a cloud disk, while the loop carries every
    link's submits (and the API, in the embedded mode). The hop costs tens of microseconds.
    A single thread, so that the one connection is never used by two threads at once.
    """

    def __init__(self, path: Path | None, name: str = "smpp") -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-mo")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> Reassembler:
        """Opens (creating the file and its directory if needed) and reads back every part."""
        return await self._run(self._open)

    async def keep(
        self, sender: str, recipient: str, concat: Concat, text: str, received_at: datetime
    ) -> None:
        """Commits one part; a copy of a part already kept changes nothing (the first stays,
        as in the ``Reassembler``)."""
        await self._run(
            self._write,
            "INSERT OR IGNORE INTO mo_parts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sender,
                recipient,
                concat.reference,
                concat.total,
                concat.sequence,
                text,
                received_at.isoformat(),
            ),
        )

    async def forget(self, message: Completed) -> None:
        """Removes the parts of a message the sink accepted (whole, or partial once expired)."""
        await self._run(
            self._write,
            "DELETE FROM mo_parts WHERE sender = ? AND recipient = ? AND reference = ?"
            " AND total = ?",
            (message.sender, message.recipient, message.reference, message.total),
        )

    async def load(self) -> Reassembler:
        """Every kept part, as a ``Reassembler``: the truth to go back to when the one in
        memory went ahead of what was committed."""
        return await self._run(self._read)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    # On the store's thread

    async def _run(self, call: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def _open(self) -> Reassembler:
        if self._db is None:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                ":memory:" if self.path is None else self.path, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_SCHEMA)
            db.commit()
            self._db = db
        return self._read()

    def _write(self, statement: str, values: tuple[object, ...]) -> None:
        db = self._connection()
        db.execute(statement, values)
        db.commit()

    def _read(self) -> Reassembler:
        rows = self._connection().execute(
            "SELECT sender, recipient, reference, total, sequence, text, received_at"
            " FROM mo_parts ORDER BY received_at, sequence"
        )
        reassembler = Reassembler()
        for sender, recipient, reference, total, sequence, text, received_at in rows:
            reassembler.restore(
                sender,
                recipient,
                Concat(reference, total, sequence),
                text,
                datetime.fromisoformat(received_at),
            )
        return reassembler

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the MO part store is not open")
        return self._db
