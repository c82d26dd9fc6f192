"""What Chainon reads of the event store beyond eventsourcing's recorder API.

eventsourcing reads one aggregate per query and the notification log with every event's
state. A batch of commands looks up hundreds of aggregates (every inbound message asks
whether its provider id was seen, which it mostly was not), and the low-water-mark scan
reads the log every second: the queries' own overhead and the states' bytes were what the
profiles showed. Where the store is one we know (``sqlite``, ``postgres``), one query per
page answers; any other recorder is asked through its own API (``popo``).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

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


@dataclass(frozen=True)
class DataKey:
    """A contact's data key: ``key_id`` is stored beside every ciphertext made with it."""

    key_id: str
    secret: bytes


KEYS_TABLE = "contact_keys"


class DataKeys(ABC):
    """The contacts' data keys (crypto-shredding: destroying one erases the contact's
    personal data from every stored event), in a table of the store's own database."""

    @abstractmethod
    def key_of(self, contact_id: UUID) -> DataKey:
        """The contact's key, made (once, even when two processes race) if it has none."""

    def keys_of(self, contact_ids: Sequence[UUID]) -> dict[UUID, DataKey]:
        """Each contact's key, as ``key_of``: the stores answer a batch's contacts in one
        read, and make the missing keys in one transaction (a commit per new contact was
        a fifth of the core's save)."""
        return {contact_id: self.key_of(contact_id) for contact_id in contact_ids}

    @abstractmethod
    def find(self, key_id: str) -> bytes | None:
        """The secret of a key; None once it is destroyed."""

    @abstractmethod
    def destroy(self, contact_id: UUID) -> int:
        """Destroys the contact's key; how many there were (0 or 1)."""

    @staticmethod
    def new_key() -> DataKey:
        return DataKey(uuid4().hex, os.urandom(32))  # AES-256


def data_keys_of(recorder: ApplicationRecorder) -> DataKeys:
    """The data keys beside this recorder's events, in its own database."""
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(recorder, SQLiteApplicationRecorder):
        from chainon.adapters.persistence.sqlite import SQLiteDataKeys

        return SQLiteDataKeys(recorder)
    if type(recorder).__module__ == "eventsourcing.postgres":
        from eventsourcing.postgres import PostgresApplicationRecorder

        from chainon.adapters.persistence.postgres import PostgresDataKeys

        if isinstance(recorder, PostgresApplicationRecorder):
            return PostgresDataKeys(recorder)
    from chainon.adapters.persistence.popo import MemoryDataKeys

    return MemoryDataKeys()


_LOG = "_chainon_log"  # the recorder's own attribute: the log lives as long as it does


def log_of(recorder: ApplicationRecorder) -> EventLog:
    """The log for this recorder's backend, chosen once from its type; one per recorder,
    so that the followers of a process share what it holds (``SQLiteLog``)."""
    log = getattr(recorder, _LOG, None)
    if not isinstance(log, EventLog):
        log = _new_log(recorder)
        setattr(recorder, _LOG, log)
    return log


def _new_log(recorder: ApplicationRecorder) -> EventLog:
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
