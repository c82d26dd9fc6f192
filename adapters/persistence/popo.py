"""The event log of any other recorder (eventsourcing's in-memory one, mostly): asked
through the recorder's own API, one aggregate at a time and with the events' state."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from chainon.adapters.persistence.port import EventLog, Logged


class RecorderLog(EventLog):
    def _events_of_page(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        return [event for i in ids for event in self.recorder.select_events(i)]

    def logged(self, start: int, stop: int, limit: int) -> list[Logged]:
        notifications = self.recorder.select_notifications(start=start, limit=limit, stop=stop)
        return [
            Logged(n.id, str(UUID(str(n.originator_id))), n.originator_version, n.topic)
            for n in notifications
        ]
