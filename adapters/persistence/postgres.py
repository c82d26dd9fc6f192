"""The event log on eventsourcing's PostgreSQL tables: ``= ANY`` over a page of ids, and
the log scanned by ``notification_id`` without the ``state`` column; prepared statements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from chainon.adapters.persistence.port import KEYS_TABLE, DataKey, DataKeys, EventLog, Logged


class PostgresLog(EventLog):
    recorder: PostgresApplicationRecorder

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        super().__init__(recorder)

    def _events_of_page(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        statement = self._on_events_table(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        )
        datastore = self.recorder.datastore
        keys: list[Any] = (
            list(ids) if datastore.originator_id_type == "uuid" else [str(i) for i in ids]
        )
        with datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [keys], prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def logged(self, start: int, stop: int, limit: int) -> list[Logged]:
        statement = self._on_events_table(
            "SELECT notification_id AS id, originator_id, originator_version, topic "
            "FROM {schema}.{table} WHERE notification_id >= %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        )
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [start, stop, limit], prepare=True)
            rows = curs.fetchall()
        return [
            Logged(
                int(row["id"]),
                str(UUID(str(row["originator_id"]))),
                int(row["originator_version"]),
                row["topic"],
            )
            for row in rows
        ]

    def _on_events_table(self, statement: LiteralString) -> Composed:
        return SQL(statement).format(
            schema=Identifier(self.recorder.datastore.schema),
            table=Identifier(self.recorder.events_table_name),
        )


class PostgresDataKeys(DataKeys):
    """The keys in a table of the store's schema. A deleted row lives on as a dead tuple
    until vacuumed: destroying a key vacuums the table at once."""

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.datastore = recorder.datastore
        self.table = Composed([Identifier(self.datastore.schema), SQL("."), Identifier(KEYS_TABLE)])
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (contact_id uuid PRIMARY KEY, "
                    "key_id text NOT NULL UNIQUE, secret bytea NOT NULL)"
                ).format(self.table)
            )

    def key_of(self, contact_id: UUID) -> DataKey:
        return self.keys_of([contact_id])[contact_id]

    def keys_of(self, contact_ids: Sequence[UUID]) -> dict[UUID, DataKey]:
        """Read first (no commit); the missing keys are made in one transaction, where a
        key another process made meanwhile wins (``DO NOTHING`` waits for it, then the
        read sees it)."""
        wanted = list(dict.fromkeys(contact_ids))
        with self.datastore.transaction(commit=False) as curs:
            found = self._selected(curs, wanted)
        missing = [i for i in wanted if i not in found]
        if missing:
            with self.datastore.transaction(commit=True) as curs:
                curs.executemany(
                    SQL(
                        "INSERT INTO {} VALUES (%s, %s, %s) ON CONFLICT (contact_id) DO NOTHING"
                    ).format(self.table),
                    [(i, *astuple(self.new_key())) for i in missing],
                )
                found.update(self._selected(curs, missing))
        return found

    def _selected(self, curs: Any, contact_ids: list[UUID]) -> dict[UUID, DataKey]:
        curs.execute(
            SQL("SELECT contact_id, key_id, secret FROM {} WHERE contact_id = ANY(%s)").format(
                self.table
            ),
            [contact_ids],
        )
        return {
            UUID(str(row["contact_id"])): DataKey(row["key_id"], bytes(row["secret"]))
            for row in curs.fetchall()
        }

    def find(self, key_id: str) -> bytes | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT secret FROM {} WHERE key_id = %s").format(self.table), [key_id]
            )
            row = curs.fetchone()
        return None if row is None else bytes(row["secret"])

    def destroy(self, contact_id: UUID) -> int:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("DELETE FROM {} WHERE contact_id = %s").format(self.table), [contact_id]
            )
            count = curs.rowcount
        with self.datastore.get_connection() as conn:
            autocommit = conn.autocommit
            conn.autocommit = True  # VACUUM runs outside a transaction
            try:
                conn.execute(SQL("VACUUM {}").format(self.table))
            finally:
                conn.autocommit = autocommit
        return count
