"""Read models in a SQLite file beside the embedded event store."""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chainon.projections.read_model_store import ReadModelStore

_PYFORMAT = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=4096)
def _named(sql: str) -> str:
    """pyformat placeholders as SQLite's named ones; the same few statements come back at
    every batch, so each is translated once."""
    return _PYFORMAT.sub(r":\1", sql)


class SQLiteReadModels(ReadModelStore):
    """``read_only`` opens the file for reading only, in deferred transactions: a reader in
    another process (a watcher, a report) then never takes the write lock the feed needs.
    A writer begins IMMEDIATE, so a transaction that reads and then writes cannot fail
    halfway on another process's lock; a read of a writer's connection (a query, a
    position) begins deferred all the same, so that an API's query in one process and the
    deadlines' polls never make the feed in another wait on SQLite's busy handler."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        target, uri = (f"file:{path}?mode=ro", True) if read_only else (str(path), False)
        self._db = sqlite3.connect(
            target, uri=uri, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.row_factory = sqlite3.Row
        if not read_only:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # A row deleted or a table dropped (a rebuild swaps its shadow in) is zeroed in
            # the file: an erased contact's data does not linger on free pages.
            self._db.execute("PRAGMA secure_delete=ON")
        self._begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self, *, pipelined: bool = False, read: bool = False) -> Iterator[Any]:
        with self._lock:
            cursor = self._db.cursor()
            cursor.execute("BEGIN" if read else self._begin)
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def qualify(self, bare: str) -> str:
        return bare

    def placeholders(self, sql: str) -> str:
        return _named(sql)

    def fetch(self, cursor: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        cursor.execute(sql, dict(params))
        return [dict(row) for row in cursor.fetchall()]

    def table_exists(self, cursor: Any, bare: str) -> bool:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (bare,))
        return cursor.fetchone() is not None

    def rename_index(self, cur: Any, old: str, new: str) -> None:
        cur.execute(f"DROP INDEX IF EXISTS {old}")  # SQLite cannot rename; create() remakes it

    def close(self) -> None:
        with self._lock:
            self._db.close()
