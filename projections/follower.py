"""Follows an event store's notification log from a tracked position.

eventsourcing's SQLite recorder cannot subscribe, so in the embedded mode a projection
polls: a batch at a time, sleeping a little longer each time the log has nothing new and
waking at once after a batch. Each batch is applied with its tracking position in one
transaction by the view, so a crash between the two never happens: exactly once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification, Tracking


class View(Protocol):
    def apply(self, events: Sequence[tuple[Any, Tracking]]) -> None:
        """Applies the events and records the last tracking position, in one transaction."""
        ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


class Follower:
    def __init__(
        self,
        *,
        name: str,
        source: ApplicationRecorder,
        mapper: Mapper[Any],
        view: View,
        topics: Sequence[str] = (),
        batch_size: int = 500,
    ) -> None:
        self.name = name  # the source application's name, as tracking records it
        self.source = source
        self.mapper = mapper
        self.view = view
        self.topics = tuple(topics)
        self.batch_size = batch_size
        self._caught_up = threading.Condition()

    @property
    def position(self) -> int:
        return self.view.max_tracking_id(self.name) or 0

    def run_once(self) -> int:
        """Applies the next batch; returns how many notifications it read."""
        notifications: Sequence[Notification] = self.source.select_notifications(
            start=self.position + 1, limit=self.batch_size, topics=self.topics
        )
        if notifications:
            batch = [
                (self.mapper.to_domain_event(n), Tracking(self.name, n.id)) for n in notifications
            ]
            self.view.apply(batch)
        with self._caught_up:
            self._caught_up.notify_all()
        return len(notifications)

    def run_until_idle(self) -> int:
        total = 0
        while read := self.run_once():
            total += read
        return total

    def wait_for(self, position: int, timeout: float) -> bool:
        """Blocks until the view has applied ``position`` (read-your-writes), or times out.

        With a topic filter, the view's position may stop short of ``position`` while
        having nothing left to apply; so this also returns True when the log holds no
        matching notification up to ``position``.
        """
        with self._caught_up:
            return self._caught_up.wait_for(lambda: self._has_reached(position), timeout)

    def _has_reached(self, position: int) -> bool:
        current = self.position
        if current >= position:
            return True
        pending = self.source.select_notifications(
            start=current + 1, limit=1, stop=position, topics=self.topics
        )
        return not pending
