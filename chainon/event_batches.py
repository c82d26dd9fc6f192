"""The stored events of many aggregates in one query; the notification log without its
events' state.

eventsourcing reads one aggregate per query; a batch of commands looks up hundreds of ids
(every inbound message asks whether its provider id was seen, which it mostly was not),
and the queries' own overhead, not the rows, was what the profile showed. Where the store
is one we know (SQLite, PostgreSQL), one ``IN``/``ANY`` query per page of ids answers
them all; any other recorder is asked one id at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, StoredEvent

PAGE = 500  # ids per query (SQLite allows 32,766 parameters; plans stay small)


def select_events_of(recorder: AggregateRecorder, ids: Sequence[UUID]) -> list[StoredEvent]:
    """Every stored event of these aggregates, in version order per aggregate."""
    found: list[StoredEvent] = []
    for start in range(0, len(ids), PAGE):
        page = ids[start : start + PAGE]
        found.extend(_page(recorder, page))
    return found


def _page(recorder: AggregateRecorder, ids: Sequence[UUID]) -> list[StoredEvent]:
    from eventsourcing.sqlite import SQLiteAggregateRecorder

    if isinstance(recorder, SQLiteAggregateRecorder):
        return _sqlite(recorder, ids)
    if type(recorder).__module__ == "eventsourcing.postgres":  # no psycopg import otherwise
        from eventsourcing.postgres import PostgresAggregateRecorder

        if isinstance(recorder, PostgresAggregateRecorder):
            return _postgres(recorder, ids)
    return [event for i in ids for event in recorder.select_events(i)]


def _sqlite(recorder: Any, ids: Sequence[UUID]) -> list[StoredEvent]:
    marks = ",".join("?" * len(ids))
    statement = (
        "SELECT originator_id, originator_version, topic, state "
        f"FROM {recorder.events_table_name} WHERE originator_id IN ({marks}) "
        "ORDER BY originator_id, originator_version"
    )
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(statement, [i.hex for i in ids])
        return [
            StoredEvent(
                originator_id=recorder.convert_originator_id(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in c.fetchall()
        ]


def _postgres(recorder: Any, ids: Sequence[UUID]) -> list[StoredEvent]:
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    keys: list[Any] = (
        list(ids) if recorder.datastore.originator_id_type == "uuid" else [str(i) for i in ids]
    )
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
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


@dataclass(frozen=True)
class Logged:
    """A notification's place and subject, without its event: what a scan of the log for
    what has been applied needs."""

    id: int
    aggregate_id: str  # the canonical UUID string, as facts carry it
    version: int
    topic: str


def select_logged(recorder: ApplicationRecorder, start: int, stop: int, limit: int) -> list[Logged]:
    """The notifications from ``start`` to ``stop`` (both included), at most ``limit``, with
    no event state read: the scan runs every second and the states are most of the bytes."""
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(recorder, SQLiteApplicationRecorder):
        statement = (
            "SELECT rowid AS id, originator_id, originator_version, topic "
            f"FROM {recorder.events_table_name} WHERE rowid >= ? AND rowid <= ? "
            "ORDER BY rowid LIMIT ?"
        )
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(statement, [start, stop, limit])
            rows = c.fetchall()
    elif type(recorder).__module__ == "eventsourcing.postgres":
        rows = _postgres_logged(recorder, start, stop, limit)
    else:
        notifications = recorder.select_notifications(start=start, limit=limit, stop=stop)
        return [
            Logged(n.id, str(UUID(str(n.originator_id))), n.originator_version, n.topic)
            for n in notifications
        ]
    return [
        Logged(
            int(row["id"]),
            str(UUID(str(row["originator_id"]))),
            int(row["originator_version"]),
            row["topic"],
        )
        for row in rows
    ]


def _postgres_logged(recorder: Any, start: int, stop: int, limit: int) -> list[Any]:
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT notification_id AS id, originator_id, originator_version, topic "
        "FROM {schema}.{table} WHERE notification_id >= %s AND notification_id <= %s "
        "ORDER BY notification_id LIMIT %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, [start, stop, limit], prepare=True)
        return list(curs.fetchall())
