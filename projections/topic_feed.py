"""Distributed, the runner's feed is the events topic: records become facts, applied in
batches, and the consumer commits only after the batch was applied.

The bus is the core's adapter; this needs only a consumer's four calls (``TopicConsumer``)
and the exception that means "try again", both passed in by the core's wiring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import structlog

from chainon.projections.facts import fact_from_record
from chainon.projections.runner import BATCH, Views

log = structlog.get_logger(__name__)


class ConsumedRecord(Protocol):
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes: ...


R = TypeVar("R", bound=ConsumedRecord)


class TopicConsumer(Protocol[R]):
    async def start(self) -> None: ...

    async def poll(self, max_records: int, timeout: float) -> Sequence[R]: ...

    async def commit(self, records: Sequence[R]) -> None: ...

    async def stop(self) -> None: ...


class TopicFeed:
    """The events topic, committed after the batch was applied."""

    def __init__(
        self,
        views: Views,
        consumer: TopicConsumer[Any],
        call: Callable[..., Awaitable[Any]],
        *,
        unavailable: type[Exception],
        polled: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.views = views
        self.consumer = consumer
        self.call = call  # runs a blocking read-model call off the event loop
        self.unavailable = unavailable
        self.polled = polled  # after every poll, busy or idle (the core reports lag there)

    async def run(self, stopping: asyncio.Event) -> None:
        await self.consumer.start()
        marked = True  # the stored low-water marks cover what this feed applied
        try:
            while not stopping.is_set():
                try:
                    records = await self.consumer.poll(BATCH, timeout=0.5)
                except self.unavailable:
                    await asyncio.sleep(1.0)
                    continue
                if not records and not marked:
                    # Idle: the stored marks catch up, so readers start from there. Never
                    # while there is a backlog (it cost the feed a second of latency under
                    # load): readers move the marks they need themselves.
                    await self.call(self.views.advance_marks)
                    marked = True
                facts = []
                for r in records:
                    try:
                        facts.append(fact_from_record(r.value))
                    except ValueError as exc:
                        log.error("views.unreadable_event", offset=r.offset, error=str(exc))
                if facts:
                    await self.call(self.views.apply, facts)
                    marked = False
                if records:
                    await self.consumer.commit(records)
                if self.polled is not None:
                    await self.polled()
        finally:
            await self.consumer.stop()
