"""The webhooks role wired to a runtime's core, bus and settings: the outbox's feed (the
store embedded, the events topic distributed) and the delivery beside it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from chainon.adapters.bus.port import Bus, BusUnavailable
from chainon.adapters.persistence.port import log_of
from chainon.consuming import LagReport
from chainon.core import Core
from chainon.domain.webhooks import Endpoint, WebhookEndpoints
from chainon.polling import follow
from chainon.projections.projection import Fact
from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.runner import Views
from chainon.projections.topic_feed import TopicFeed
from chainon.settings import BusKind, Settings, StoreKind
from chainon.topics import Topics
from chainon.webhooks import endpoints
from chainon.webhooks import outbox as ob
from chainon.webhooks.delivery import Deliveries
from chainon.webhooks.outbox import FEED, WebhookOutbox
from chainon.webhooks.sealing import SecretBox

PRUNE_BATCH = 1000  # deliveries deleted per transaction: the feed's writes wait no longer
PRUNE_INTERVAL = 600.0  # seconds between passes once nothing old is left


class WebhookWorker:
    def __init__(
        self,
        core: Core,
        settings: Settings,
        bus: Bus,
        topics: Topics,
        call: Callable[..., Awaitable[Any]],
        box: SecretBox,
    ) -> None:
        self.core = core
        self.box = box
        self.settings = settings
        self.bus = bus
        self.topics = topics
        self.call = call
        self.outbox = WebhookOutbox(self.subscribers)
        self.batch_endpoints: dict[UUID, WebhookEndpoints | None] = {}

    def subscribers(self, brand_id: UUID, kind: str, at: datetime) -> list[UUID]:
        """Read once per brand per batch: the batch was read from the log before, so every
        endpoint added before one of its events is seen (``created_at`` leaves out the
        later ones)."""
        if brand_id not in self.batch_endpoints:
            self.batch_endpoints[brand_id] = endpoints.endpoints_of(self.core, brand_id)
        held = self.batch_endpoints[brand_id]
        if held is None:
            return []
        return [e.id for e in held.endpoints.values() if e.wants(kind) and e.created_at <= at]

    def find(self, brand_id: UUID, endpoint_id: UUID) -> Endpoint | None:
        """The endpoint with its secrets opened, to sign with."""
        held = endpoints.endpoints_of(self.core, brand_id)
        found = held.endpoints.get(endpoint_id) if held else None
        return endpoints.opened(found, self.box) if found else None

    def disable(self, brand_id: UUID, endpoint_id: UUID, reason: str) -> bool:
        return endpoints.disable(self.core, brand_id, endpoint_id, reason)

    @functools.cached_property
    def views(self) -> Views:
        """The outbox's database, opened by the processes that feed or read it."""
        return _Batches(
            self.batch_endpoints,
            log_of(self.core.recorder),
            self.core.recent_events,
            self._store(),
            [self.outbox],
            fed_by_bus=self.settings.bus is BusKind.KAFKA,
            feed=FEED,
            to_fact=self.core.recent_events.fact,
        )

    @property
    def store(self) -> ReadModelStore:
        return self.views.store

    def _store(self) -> ReadModelStore:
        if self.settings.store is StoreKind.SQLITE:
            from chainon.projections.sqlite import SQLiteReadModels

            return SQLiteReadModels(self.settings.webhooks_path)
        from chainon.projections.postgres import PostgresReadModels

        return PostgresReadModels(
            self.settings.postgres_dsn, self.settings.postgres_schema or "public"
        )

    async def run(self, stopping: asyncio.Event, wake: asyncio.Event) -> None:
        await self.call(lambda: self.views)  # opened (and created) off the event loop
        deliveries = Deliveries(
            self.store,
            self.outbox,
            self.call,
            self.find,
            self.disable,
            allow_private=self.settings.webhooks_allow_private,
            scale=self.settings.webhooks_retry_scale,
            interval=self.settings.webhooks_poll_interval,
        )
        await asyncio.gather(
            self._feed(stopping, wake), deliveries.run(stopping), self._prune(stopping)
        )

    def prune_pass(self, now: datetime, batch: int = PRUNE_BATCH) -> int:
        """Deletes every settled delivery older than the retention, a batch at a time."""
        before = now - timedelta(days=self.settings.webhooks_retention_days)
        pruned = 0
        while (n := ob.prune(self.store, self.outbox, before, batch)) > 0:
            pruned += n
            if n < batch:
                break
        return pruned

    async def _prune(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.call(self.prune_pass, datetime.now(UTC))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), PRUNE_INTERVAL)

    async def _feed(self, stopping: asyncio.Event, wake: asyncio.Event) -> None:
        if self.settings.bus is BusKind.KAFKA:
            consumer = self.bus.consumer(self.topics.group("webhooks"), [self.topics.events])
            lag = LagReport("webhooks", consumer)
            feed = TopicFeed(
                self.views, consumer, self.call, unavailable=BusUnavailable, polled=lag.report
            )
            await feed.run(stopping)
            return
        await follow(
            lambda: self.call(self.views.feed_from_store),
            stopping,
            name="webhooks",
            fastest=0.02,
            slowest=0.5,
            wake=wake,
            linger=self.settings.batch_linger,
        )

    def close(self) -> None:
        if "views" in self.__dict__:
            self.views.store.close()


class _Batches(Views):
    """The outbox's runner, forgetting the endpoints it read at each batch (both feeds)."""

    def __init__(self, read: dict[UUID, WebhookEndpoints | None], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.read = read

    def apply(self, facts: Sequence[Fact]) -> None:
        self.read.clear()
        super().apply(facts)

    def feed_from_store(self) -> int:
        self.read.clear()
        return super().feed_from_store()
