"""The event log on eventsourcing's PostgreSQL tables: ``= ANY`` over a page of ids, and
the log scanned by ``notification_id`` without the ``state`` column; prepared statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from chainon.adapters.persistence.port import EventLog, Logged


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
