"""What Chainon reads of the event store beyond eventsourcing's recorder API.

eventsourcing reads one aggregate per query and the notification log with every event's
state. A batch of commands looks up hundreds of aggregates (every inbound message asks
whether its provider id was seen, which it mostly was not), and the low-water-mark scan
reads the log every second: the queries' own overhead and the states' bytes were what the
profiles showed. Where the store is one we know (``sqlite``, ``postgres``), one query per
page answers; any other recorder is asked through its own API (``popo``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent

PAGE = 500  # ids per query (SQLite allows 32,766 parameters; plans stay small)


@dataclass(frozen=True)
class Logged:
    """A notification's place and subject, without its event: what a scan of the log for
    what has been applied needs."""

    id: int
    aggregate_id: str  # the canonical UUID string, as facts carry it
    version: int
    topic: str


class EventLog(ABC):
    """One store's notification log and events tables, read in one query where we can."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder

    def head(self) -> int:
        """The newest notification id (0 for an empty store)."""
        return self.recorder.max_notification_id() or 0

    def notifications(
        self, start: int, limit: int, stop: int | None = None
    ) -> Sequence[Notification]:
        """The notifications from ``start`` (to ``stop``, both included), with their events."""
        return self.recorder.select_notifications(start=start, limit=limit, stop=stop)

    def events_of(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of these aggregates, in version order per aggregate."""
        found: list[StoredEvent] = []
        for start in range(0, len(ids), PAGE):
            found.extend(self._events_of_page(ids[start : start + PAGE]))
        return found

    @abstractmethod
    def _events_of_page(self, ids: Sequence[UUID]) -> list[StoredEvent]: ...

    @abstractmethod
    def logged(self, start: int, stop: int, limit: int) -> list[Logged]:
        """The notifications from ``start`` to ``stop`` (both included), at most ``limit``,
        with no event state read: the states are most of the bytes."""


def log_of(recorder: ApplicationRecorder) -> EventLog:
    """The log for this recorder's backend, chosen once from its type."""
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(recorder, SQLiteApplicationRecorder):
        from chainon.adapters.persistence.sqlite import SQLiteLog

        return SQLiteLog(recorder)
    if type(recorder).__module__ == "eventsourcing.postgres":  # no psycopg import otherwise
        from eventsourcing.postgres import PostgresApplicationRecorder

        from chainon.adapters.persistence.postgres import PostgresLog

        if isinstance(recorder, PostgresApplicationRecorder):
            return PostgresLog(recorder)
    from chainon.adapters.persistence.popo import RecorderLog

    return RecorderLog(recorder)
