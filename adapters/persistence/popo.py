"""The event log of any other recorder (eventsourcing's in-memory one, mostly): asked
through the recorder's own API, one aggregate at a time and with the events' state."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from chainon.adapters.persistence.port import DataKey, DataKeys, EventLog, Logged


class RecorderLog(EventLog):
    def _events_of_page(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        return [event for i in ids for event in self.recorder.select_events(i)]

    def logged(self, start: int, stop: int, limit: int) -> list[Logged]:
        notifications = self.recorder.select_notifications(start=start, limit=limit, stop=stop)
        return [
            Logged(n.id, str(UUID(str(n.originator_id))), n.originator_version, n.topic)
            for n in notifications
        ]


class MemoryDataKeys(DataKeys):
    """Keys of an in-memory store, as short-lived as its events."""

    def __init__(self) -> None:
        self._keys: dict[UUID, DataKey] = {}
        self._lock = threading.Lock()

    def key_of(self, contact_id: UUID) -> DataKey:
        with self._lock:
            return self._keys.setdefault(contact_id, self.new_key())

    def find(self, key_id: str) -> bytes | None:
        with self._lock:
            return next((k.secret for k in self._keys.values() if k.key_id == key_id), None)

    def destroy(self, contact_id: UUID) -> int:
        with self._lock:
            return 0 if self._keys.pop(contact_id, None) is None else 1
