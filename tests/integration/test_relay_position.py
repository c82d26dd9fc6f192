"""The relay records its position after the bus acknowledged a batch; when only that write
fails, the next attempt writes it again instead of publishing the batch a second time."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from eventsourcing.persistence import Tracking

from chainon.domain.channels import Channel
from chainon.relay import NAME
from chainon.runtime import Runtime
from chainon.settings import Settings
from tests.conftest import BRAND_SMS


class FailsOnce:
    """The store's tracking recorder, whose next position write fails once."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.failures = 1

    def insert_tracking(self, tracking: Tracking) -> None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        self.inner.insert_tracking(tracking)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def published_positions(data_dir: Path, topic: str) -> list[int]:
    with sqlite3.connect(data_dir / "bus.sqlite3") as log:
        return [
            json.loads(value)["position"]
            for (value,) in log.execute(
                "SELECT value FROM bus_records WHERE topic = ? ORDER BY offset", (topic,)
            )
        ]


async def test_a_failed_position_write_is_written_again_and_nothing_is_published_twice(
    sqlite_settings: Settings,
) -> None:
    runtime = Runtime(sqlite_settings)
    runtime.core.register_brand(slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)])
    head = runtime.core.recorder.max_notification_id() or 0
    assert head > 0
    relay = runtime.relay
    failing = FailsOnce(relay.tracking)
    relay.tracking = failing  # type: ignore[assignment]
    await runtime.bus.start()
    try:
        try:
            await relay.run_once()
        except sqlite3.OperationalError:
            pass
        else:
            raise AssertionError("the position write was meant to fail")
        assert (runtime.relay_tracking.max_tracking_id(NAME) or 0) == 0
        first = published_positions(sqlite_settings.data_dir, runtime.topics.events)
        assert first  # the batch went out before its position failed to be written

        assert await relay.run_once() == 0  # nothing new: the position alone is written
        assert runtime.relay_tracking.max_tracking_id(NAME) == head
        assert published_positions(sqlite_settings.data_dir, runtime.topics.events) == first
        assert len(first) == len(set(first))
    finally:
        await runtime.bus.stop()
        runtime.close()
