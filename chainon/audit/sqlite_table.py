"""The audit table in the SQLite store's file, guarded by triggers that refuse changes.

In the store's file, not beside it: a backup of the store (``chainon backup``) carries the
log with it. Entries go in through one connection held open, in short write transactions
that wait (up to the timeout) for the core's commit in progress rather than failing; the
entries of concurrent requests share one transaction (``group_commit``). Opening a
connection per entry cost 4 to 5 ms, most of a send's audit.

In a process with the store's writer, the entries go through the store's own connections
(``writes``): their transactions then take turns with the core's and the relay's in the
process, where a connection of their own waited on the file's lock in SQLite's sleeps of
milliseconds, and made the core's next batch wait the same way (13 % of the core's time
under send-smpp).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from chainon.audit.group_commit import GroupCommit
from chainon.audit.trail import REFUSAL, TABLE, AuditEntry, AuditFilter, NewEntry

_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, brand_id TEXT NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, request_id TEXT,"
    " detail TEXT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_brand ON {TABLE} (brand_id, id)",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE}"
        f" BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        for verb in ("UPDATE", "DELETE")
    ),
)

_INSERT = (
    f"INSERT INTO {TABLE} (at, brand_id, actor, action, subject, request_id, detail)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _text(at: datetime) -> str:
    """Fixed-width UTC, so that comparing the text compares the times."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


class SQLiteAuditTable:
    def __init__(
        self, path: Path, writes: Callable[[], AbstractContextManager[Any]] | None = None
    ) -> None:
        """``writes``: a transaction of the store's own, committed on exit (a cursor)."""
        self.path = path
        self._writes = writes
        with self._connect() as db:
            for statement in _CREATE:
                db.execute(statement)
        self._writer: sqlite3.Connection | None = None  # opened by the first entry
        self._group = GroupCommit(self._insert)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def append(self, entry: NewEntry) -> None:
        row = (
            _text(entry.at),
            str(entry.brand_id),
            entry.actor,
            entry.action,
            entry.subject,
            entry.request_id,
            json.dumps(dict(entry.detail), sort_keys=True),
        )
        self._group.append(row)

    def _insert(self, rows: Sequence[tuple[str | None, ...]]) -> None:
        """One transaction, on the group's writer thread (whichever caller holds it)."""
        if self._writes is not None:
            with self._writes() as cursor:
                cursor.executemany(_INSERT, rows)
            return
        if self._writer is None:
            self._writer = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        with self._writer:
            self._writer.executemany(_INSERT, rows)

    def entries(self, where: AuditFilter) -> list[AuditEntry]:
        clauses: list[str] = ["brand_id = ?"]
        params: list[object] = [str(where.brand_id)]
        for clause, value in (
            ("actor = ?", where.actor),
            ("action = ?", where.action),
            ("at >= ?", _text(where.since) if where.since else None),
            ("at <= ?", _text(where.until) if where.until else None),
            ("id < ?", where.before),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        db = self._connect()
        try:
            rows = db.execute(
                f"SELECT id, at, brand_id, actor, action, subject, request_id, detail"
                f" FROM {TABLE} WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
                [*params, where.limit],
            ).fetchall()
        finally:
            db.close()
        return [_entry(row) for row in rows]

    def close(self) -> None:
        """Closes the writer's connection (reads open their own); a later entry reopens it."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    id_, at, brand_id, actor, action, subject, request_id, detail = row
    return AuditEntry(
        at=datetime.fromisoformat(at),
        brand_id=UUID(brand_id),
        actor=actor,
        action=action,
        subject=subject,
        request_id=request_id,
        detail=json.loads(detail),
        id=int(id_),
    )
