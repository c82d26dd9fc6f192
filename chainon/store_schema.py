"""The store's layout version: an older store is brought forward at start (or by
``chainon migrate``), and a store a newer Chainon wrote is refused with one clear line.

Stored events never change meaning (new versions come with upcasters), so most upgrades
need no migration at all; this number is for the rest: a table, an index or a column that
Chainon's own code adds around eventsourcing's. Version 1 is the first numbered layout; a
store without the table was written by 0.1.0, which had the same tables, so reaching 1 only
records the number. Downgrades are refused because an older Chainon cannot know what a
later migration changed; the message says to upgrade instead.

The read models need no number: each is rebuilt from the events (``chainon projections
rebuild``), and a table a later version adds is created when missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

from chainon.errors import CannotStart
from chainon.settings import Settings, StoreKind

SCHEMA_VERSION = 2
TABLE = "chainon_schema"


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


# version -> what brings a store from the version below to it, with the reason
MIGRATIONS: dict[int, tuple[str, Callable[[Cursor, str], None]]] = {
    1: ("the layout gets a number (0.1.0 wrote the same tables)", lambda cursor, table: None),
    # The table is made by the store when it opens (``adapters.persistence``); the number
    # keeps an older Chainon away: it would write personal data in clear, and read the
    # encrypted fields as "erased".
    2: (
        "personal data is encrypted per contact (the contact_keys table)",
        lambda cursor, table: None,
    ),
}


@dataclass(frozen=True)
class Migrated:
    before: int  # 0: a store from before the layout was numbered
    after: int
    steps: tuple[str, ...]


def migrate(settings: Settings) -> Migrated:
    """Brings the store forward to ``SCHEMA_VERSION``, or refuses a newer one."""
    if settings.store is StoreKind.SQLITE:
        import sqlite3

        with closing(sqlite3.connect(settings.sqlite_path, timeout=30)) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                done = _migrate(db.cursor(), TABLE, "?", settings)
            except BaseException:
                db.rollback()
                raise
            db.commit()
            return done
    import psycopg

    table = f'"{settings.postgres_schema}".{TABLE}' if settings.postgres_schema else TABLE
    with psycopg.connect(settings.postgres_dsn, connect_timeout=5) as conn, conn.cursor() as cur:
        # One migrating process at a time: the others wait, then find the work done.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (table,))
        return _migrate(cur, table, "%s", settings)


def _migrate(cursor: Any, table: str, mark: str, settings: Settings) -> Migrated:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER NOT NULL)")
    cursor.execute(f"SELECT MAX(version) FROM {table}")
    row = cursor.fetchone()
    before = int(row[0]) if row and row[0] is not None else 0
    if before > SCHEMA_VERSION:
        raise CannotStart(
            f"this store was written by a newer Chainon (store layout {before}; this version "
            f"reads up to {SCHEMA_VERSION}): run the newer version, never an older one",
            setting="CHAINON_DATA_DIR"
            if settings.store is StoreKind.SQLITE
            else "CHAINON_POSTGRES_DSN",
        )
    steps = []
    for version in range(before + 1, SCHEMA_VERSION + 1):
        reason, step = MIGRATIONS[version]
        step(cursor, table)
        steps.append(f"{version}: {reason}")
    if before < SCHEMA_VERSION:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(f"INSERT INTO {table} (version) VALUES ({mark})", (SCHEMA_VERSION,))
    return Migrated(before, SCHEMA_VERSION, tuple(steps))
