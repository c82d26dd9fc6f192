"""A link's state file (its pending MO parts, its accepted submits): one SQLite connection
on a thread of its own, in ``path`` or in memory when ``path`` is None.

Every call runs on that thread rather than on the event loop: a commit waits for the disk
(an fsync under ``synchronous=FULL``), which takes milliseconds on a cloud disk, while the
loop carries every link's submits (and the API, in the embedded mode). The hop costs tens
of microseconds. A single thread, so that the one connection is never used by two threads
at once. The in-memory file behaves the same, so a link has one way of working whether or
not it was given a directory; only a restart tells them apart.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["LinkStateDb"]

_T = TypeVar("_T")


class LinkStateDb:
    def __init__(
        self, path: Path | None, *, thread: str, schema: str, synchronous: str, what: str
    ) -> None:
        self.path = path
        self._schema = schema
        self._synchronous = synchronous
        self._what = what  # named when used before ``open``
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread)
        self._db: sqlite3.Connection | None = None

    async def open(self, first: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Opens (creating the file and its directory if needed) once; ``first`` runs in the
        same transaction as the schema, when it opens."""
        await self.run(self._open, first)

    async def run(self, call: Callable[..., _T], *args: object) -> _T:
        """``call`` on the file's thread, where ``connection`` may be used."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    async def read(self, statement: str, values: tuple[object, ...]) -> list[tuple[Any, ...]]:
        return await self.run(self._read, statement, values)

    async def write(self, statement: str, values: tuple[object, ...]) -> None:
        """Returns once the statement is committed."""
        await self.run(self._write, statement, values)

    async def close(self) -> None:
        if self._db is not None:
            await self.run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    def connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"{self._what} is not open")
        return self._db

    # On the file's thread

    def _open(self, first: Callable[[sqlite3.Connection], None] | None) -> None:
        if self._db is not None:
            return
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        where = ":memory:" if self.path is None else self.path
        db = sqlite3.connect(where, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.execute(self._schema)
        if first is not None:
            first(db)
        db.commit()
        self._db = db

    def _read(self, statement: str, values: tuple[object, ...]) -> list[tuple[Any, ...]]:
        return list(self.connection().execute(statement, values))

    def _write(self, statement: str, values: tuple[object, ...]) -> None:
        db = self.connection()
        db.execute(statement, values)
        db.commit()
