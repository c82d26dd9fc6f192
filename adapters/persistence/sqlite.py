"""The event log on eventsourcing's SQLite tables: ``IN`` over a page of ids, the log
scanned by ``rowid`` without the ``state`` column, and the page the followers of one
process read last, shared."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import astuple
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from chainon.adapters.persistence.port import KEYS_TABLE, DataKey, DataKeys, EventLog, Logged
from chainon.adapters.persistence.transcoder import uuid_of

KEYS_PER_QUERY = 500  # well under SQLite's limit of bound parameters
HELD = 4000  # notifications: a few of the followers' batches (up to twice that between trims)


def _id(notification: Notification) -> int:
    return notification.id


class SQLiteLog(EventLog):
    """In ``chainon serve``'s child the relay, the views and the webhooks' outbox each read
    every notification, a moment apart: three reads of the same rows, a twentieth of the
    child's CPU. They share the run of notifications read last instead.

    A run read from ``start`` holds every notification from ``start`` to its last one, and
    nothing committed later can fall inside it: SQLite has one writer at a time, a row's id
    is one more than the highest, and the log's rows are never deleted. So a read from
    inside the run takes what the run holds and asks the store only for what came after.
    """

    recorder: SQLiteApplicationRecorder

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        super().__init__(recorder)
        self._run: list[Notification] = []  # every notification from _since to its last one
        self._ids: list[int] = []
        self._since = 0
        self._lock = threading.Lock()

    def notifications(
        self, start: int, limit: int, stop: int | None = None
    ) -> Sequence[Notification]:
        with self._lock:
            held, covered = self._held(start, limit, stop)
        if len(held) == limit or (stop is not None and covered >= stop):
            return held
        more = self._select(covered + 1, limit - len(held), stop)
        found = [*held, *more]
        if found:
            with self._lock:
                self._keep(start, found)
        return found

    def _held(self, start: int, limit: int, stop: int | None) -> tuple[list[Notification], int]:
        """What the run holds from ``start``, and the id up to which it answered (below
        ``start`` when it holds nothing there)."""
        if not self._run or not self._since <= start <= self._ids[-1]:
            return [], start - 1
        first = bisect.bisect_left(self._ids, start)
        end = len(self._ids) if stop is None else bisect.bisect_right(self._ids, stop)
        held = self._run[first : min(end, first + limit)]
        if len(held) == limit:
            return held, held[-1].id
        return held, self._ids[-1]

    def _keep(self, start: int, found: list[Notification]) -> None:
        """The newest complete run wins: a follower further behind reads for itself. A run
        that goes on is extended in place (its followers read every few milliseconds)."""
        if self._run and self._since <= start <= self._ids[-1] + 1:
            new = found[bisect.bisect_right(found, self._ids[-1], key=_id) :]
            self._run.extend(new)
            self._ids.extend(n.id for n in new)
            if len(self._run) > 2 * HELD:  # trimmed now and then, not at each read
                del self._run[:-HELD], self._ids[:-HELD]
                self._since = self._ids[0]
            return
        if self._run and found[-1].id < self._ids[-1]:
            return
        self._run, self._ids = found[-HELD:], [n.id for n in found[-HELD:]]
        self._since = start if len(found) <= HELD else self._ids[0]

    def _select(self, start: int, limit: int, stop: int | None) -> Sequence[Notification]:
        """The recorder's ``select_notifications``, its ids made from their hex directly
        (``UUID()`` parsing each was a third of a rebuild's read of the log)."""
        if self.recorder.datastore.originator_id_type != "uuid":
            return self.recorder.select_notifications(start=start, limit=limit, stop=stop)
        statement = f"SELECT rowid, * FROM {self.recorder.events_table_name} WHERE rowid>=? "
        params = [start]
        if stop is not None:
            statement += "AND rowid<=? "
            params.append(stop)
        params.append(limit)
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(statement + "ORDER BY rowid LIMIT ?", params)
            rows = c.fetchall()
        return [
            Notification(
                id=row["rowid"],
                originator_id=uuid_of(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]

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
        return self.keys_of([contact_id])[contact_id]

    def keys_of(self, contact_ids: Sequence[UUID]) -> dict[UUID, DataKey]:
        """Read first (no commit); the missing keys are made in one transaction, where a
        key another process made meanwhile wins (``DO NOTHING``, then read again)."""
        wanted = list(dict.fromkeys(contact_ids))
        with self.datastore.transaction(commit=False) as c:
            found = self._selected(c, wanted)
        missing = [i for i in wanted if i not in found]
        if missing:
            fresh = [(i.hex, *astuple(self.new_key())) for i in missing]
            with self.datastore.transaction(commit=True) as c:
                c.executemany(
                    f"INSERT INTO {KEYS_TABLE} VALUES (?, ?, ?) ON CONFLICT (contact_id) "
                    "DO NOTHING",
                    fresh,
                )
                found.update(self._selected(c, missing))
        return found

    @staticmethod
    def _selected(c: Any, contact_ids: list[UUID]) -> dict[UUID, DataKey]:
        found: dict[UUID, DataKey] = {}
        for start in range(0, len(contact_ids), KEYS_PER_QUERY):
            chunk = [i.hex for i in contact_ids[start : start + KEYS_PER_QUERY]]
            marks = ", ".join("?" * len(chunk))
            c.execute(
                f"SELECT contact_id, key_id, secret FROM {KEYS_TABLE} "
                f"WHERE contact_id IN ({marks})",
                chunk,
            )
            for row in c.fetchall():
                found[UUID(row["contact_id"])] = DataKey(row["key_id"], bytes(row["secret"]))
        return found

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
