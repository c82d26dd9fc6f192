"""The event log on eventsourcing's SQLite tables: ``IN`` over a page of ids, and the log
scanned by ``rowid`` without the ``state`` column."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from chainon.adapters.persistence.port import KEYS_TABLE, DataKey, DataKeys, EventLog, Logged


class SQLiteLog(EventLog):
    recorder: SQLiteApplicationRecorder

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        super().__init__(recorder)

    def _events_of_page(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        marks = ",".join("?" * len(ids))
        statement = (
            "SELECT originator_id, originator_version, topic, state "
            f"FROM {self.recorder.events_table_name} WHERE originator_id IN ({marks}) "
            "ORDER BY originator_id, originator_version"
        )
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(statement, [i.hex for i in ids])
            return [
                StoredEvent(
                    originator_id=self.recorder.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]

    def logged(self, start: int, stop: int, limit: int) -> list[Logged]:
        statement = (
            "SELECT rowid AS id, originator_id, originator_version, topic "
            f"FROM {self.recorder.events_table_name} WHERE rowid >= ? AND rowid <= ? "
            "ORDER BY rowid LIMIT ?"
        )
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(statement, [start, stop, limit])
            rows = c.fetchall()
        return [
            Logged(
                int(row["id"]),
                str(UUID(str(row["originator_id"]))),
                int(row["originator_version"]),
                row["topic"],
            )
            for row in rows
        ]


class SQLiteDataKeys(DataKeys):
    """The keys in a table of the store's file. A destroyed key's bytes are overwritten
    (``secure_delete``) and the write-ahead log that still held them is checkpointed."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.datastore = recorder.datastore
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (contact_id TEXT PRIMARY KEY, "
                "key_id TEXT NOT NULL UNIQUE, secret BLOB NOT NULL)"
            )

    def key_of(self, contact_id: UUID) -> DataKey:
        fresh = self.new_key()
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {KEYS_TABLE} VALUES (?, ?, ?) ON CONFLICT (contact_id) DO NOTHING",
                [contact_id.hex, fresh.key_id, fresh.secret],
            )
            c.execute(
                f"SELECT key_id, secret FROM {KEYS_TABLE} WHERE contact_id = ?", [contact_id.hex]
            )
            row = c.fetchone()
        return DataKey(row["key_id"], bytes(row["secret"]))

    def find(self, key_id: str) -> bytes | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT secret FROM {KEYS_TABLE} WHERE key_id = ?", [key_id])
            row = c.fetchone()
        return None if row is None else bytes(row["secret"])

    def destroy(self, contact_id: UUID) -> int:
        with self.datastore.transaction(commit=True) as c:
            c.execute("PRAGMA secure_delete = ON")
            c.execute(f"DELETE FROM {KEYS_TABLE} WHERE contact_id = ?", [contact_id.hex])
            c.execute("SELECT changes() AS n")
            count = int(c.fetchone()["n"])
        with self.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count
