"""The event log on eventsourcing's SQLite tables: ``IN`` over a page of ids, and the log
scanned by ``rowid`` without the ``state`` column."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from chainon.adapters.persistence.port import EventLog, Logged


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
