"""When each API key was last used, recorded beside the event store, not in it.

A use is no fact of the brand's history (an event per request, or per minute, would fill
the brand's stream and make every API process contend on it); it is a figure an operator
reads to find keys nobody uses. So a process writes a key's last use to a small table
(``DATA_DIR/api-keys.sqlite3`` with a SQLite store, a table of the PostgreSQL store
otherwise) at most once every ``every`` seconds per key: ``last_used_at`` is accurate to
that (a minute by default), and a busy key costs one small write a minute, not one per
request.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from chainon.settings import Settings, StoreKind

RECORD_EVERY_SECONDS = 60.0


class UsageTable(Protocol):
    def write(self, key_id: str, at: datetime) -> None: ...

    def read(self, key_ids: Iterable[str]) -> dict[str, datetime]: ...


class SQLiteUsage:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS key_usage (key_id TEXT PRIMARY KEY, last_used_at TEXT)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def write(self, key_id: str, at: datetime) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO key_usage VALUES (?, ?) ON CONFLICT (key_id) DO UPDATE SET"
                " last_used_at = max(last_used_at, excluded.last_used_at)",
                (key_id, at.astimezone(UTC).isoformat()),
            )

    def read(self, key_ids: Iterable[str]) -> dict[str, datetime]:
        wanted = list(key_ids)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT key_id, last_used_at FROM key_usage WHERE key_id IN "
                f"({','.join('?' * len(wanted))})",
                wanted,
            ).fetchall()
        return {key_id: datetime.fromisoformat(at) for key_id, at in rows}


class PostgresUsage:
    def __init__(self, dsn: str, schema: str) -> None:
        import psycopg
        from psycopg.sql import SQL, Identifier

        from chainon.event_store import racing_creation

        self.dsn = dsn
        self.table = Identifier(schema, "chainon_key_usage")
        self.sql = SQL

        def create() -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(
                    SQL(
                        "CREATE TABLE IF NOT EXISTS {} "
                        "(key_id text PRIMARY KEY, last_used_at timestamptz NOT NULL)"
                    ).format(self.table)
                )

        racing_creation(create)

    def _execute(self, query: str, params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cursor = conn.execute(self.sql(query).format(self.table), params)
            return cursor.fetchall() if cursor.description else []

    def write(self, key_id: str, at: datetime) -> None:
        self._execute(
            "INSERT INTO {} AS u VALUES (%s, %s) ON CONFLICT (key_id) DO UPDATE SET"
            " last_used_at = GREATEST(u.last_used_at, excluded.last_used_at)",
            (key_id, at),
        )

    def read(self, key_ids: Iterable[str]) -> dict[str, datetime]:
        rows = self._execute(
            "SELECT key_id, last_used_at FROM {} WHERE key_id = ANY(%s)", (list(key_ids),)
        )
        return dict(rows)


class KeyUsage:
    """Records uses; writes one at most every ``every`` seconds per key in this process."""

    def __init__(
        self,
        table: UsageTable,
        clock: Callable[[], datetime],
        every: float = RECORD_EVERY_SECONDS,
    ) -> None:
        self.table = table
        self.clock = clock
        self.every = every
        self._lock = threading.Lock()
        self._written: dict[str, datetime] = {}

    def due(self, key_id: str) -> datetime | None:
        """Now, when this key's use is to be written (the caller then calls ``write``)."""
        now = self.clock()
        with self._lock:
            last = self._written.get(key_id)
            if last is not None and (now - last).total_seconds() < self.every:
                return None
            if len(self._written) > 100_000:
                self._written.clear()
            self._written[key_id] = now
        return now

    def write(self, key_id: str, at: datetime) -> None:
        self.table.write(key_id, at)

    def last_used(self, key_ids: Iterable[str]) -> dict[str, datetime]:
        return self.table.read(key_ids)


def key_usage_of(settings: Settings, clock: Callable[[], datetime]) -> KeyUsage:
    table: UsageTable
    if settings.store is StoreKind.SQLITE:
        table = SQLiteUsage(settings.data_dir / "api-keys.sqlite3")
    else:
        table = PostgresUsage(settings.postgres_dsn, settings.postgres_schema or "public")
    return KeyUsage(table, clock)
