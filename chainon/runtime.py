"""Wires one running Chainon: the core, its channel provider, the dispatcher, the views.

The HTTP app, the CLI and the tests all start Chainon through this one object, so the
embedded default and the PostgreSQL mode differ only in settings.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import structlog
from eventsourcing.persistence import TrackingRecorder

from adapters.channels.sandbox import SandboxOutcome, SandboxProvider
from chainon.core import Core, IdempotencyClaim
from chainon.dispatcher import Dispatcher
from chainon.observability import MESSAGES
from chainon.settings import Settings, StoreKind
from chainon.store import store_env
from domain import commands as cmd
from projections import conversation_list
from projections.follower import Follower

T = TypeVar("T")
log = structlog.get_logger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        env = {**store_env(settings), "SINGLE_ROW_TRACKING": "y"}
        self.core = Core(env, default_region=settings.default_region)
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chainon-store")
        self.provider = SandboxProvider(
            receipt_delay=settings.sandbox_receipt_delay,
            default_outcome=SandboxOutcome(settings.sandbox_outcome),
        )
        factory = self.core.factory
        self.dispatch_tracking: TrackingRecorder = factory.tracking_recorder()
        self.conversation_list = cast(
            conversation_list.ConversationListView,
            factory.tracking_recorder(self._view_class()),
        )
        self.conversation_follower = Follower(
            name=conversation_list.NAME,
            source=self.core.recorder,
            mapper=self.core.mapper,
            view=self.conversation_list,
            topics=conversation_list.TOPICS,
        )
        self.dispatcher = Dispatcher(
            self.core,
            self.provider,
            self.dispatch_tracking,
            self.call,
            poll_interval=settings.dispatch_poll_interval,
        )
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _view_class(self) -> type[Any]:
        if self.settings.store is StoreKind.SQLITE:
            from projections.sqlite import SQLiteConversationList

            return SQLiteConversationList
        from projections.postgres import PostgresConversationList

        return PostgresConversationList

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a blocking store call on the thread pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def handle(
        self, command: cmd.Command, idempotency: IdempotencyClaim | None = None
    ) -> cmd.Outcome:
        return await self.call(self.core.handle, command, idempotency=idempotency)

    # The channel sink: what providers hand back

    async def inbound(self, message: cmd.ReceiveMessage) -> None:
        outcome = await self.handle(message)
        log.info(
            "message.received",
            provider=message.provider,
            provider_message_id=message.provider_message_id,
            conversation_id=str(outcome.conversation_id),
            duplicate=outcome.duplicate,
            refused=outcome.refused,
        )

    async def receipt(self, receipt: cmd.RecordReceipt) -> None:
        outcome = await self.handle(receipt)
        if outcome.changed and outcome.channel is not None:
            MESSAGES.labels(outcome.channel.value, "outbound", receipt.status.value).inc()
        log.info(
            "message.receipt",
            provider_message_id=receipt.provider_message_id,
            status=receipt.status.value,
            changed=outcome.changed,
        )

    # Lifecycle

    async def start(self) -> None:
        self._stopping.clear()
        await self.provider.start(self)
        self._tasks = [
            asyncio.create_task(self.dispatcher.run(self._stopping), name="dispatcher"),
            asyncio.create_task(self._follow(self.conversation_follower), name="conversation-list"),
        ]

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.provider.stop()
        self._tasks = []

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.core.close()

    async def _follow(self, follower: Follower) -> None:
        idle = 0.05
        while not self._stopping.is_set():
            try:
                read = await self.call(follower.run_once)
            except Exception:
                log.exception("projection.failed", projection=follower.name)
                read = 0
                idle = 1.0
            if read:
                idle = 0.05
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=idle)
            except TimeoutError:
                idle = min(idle * 1.5, 1.0)
