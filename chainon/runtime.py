"""Wires one running Chainon: the core, the bus, the workers, the channel provider, the views.

The embedded default runs the roles over the embedded log, in ``chainon serve``'s process
and its children (chainon/process_tree.py) or all in one; the distributed mode runs the
same roles as separate processes over Kafka (``chainon worker core|relay|dispatch``).
The HTTP app, the CLI and the tests all start Chainon through this object.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog
from eventsourcing.persistence import TrackingRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from chainon import ops_metrics, views_role
from chainon.adapters.bus.embedded import EmbeddedBus
from chainon.adapters.bus.port import Bus, BusUnavailable
from chainon.adapters.channels.email.parsing import PROVIDER as EMAIL_LINK
from chainon.adapters.channels.email.provider import EmailProvider
from chainon.adapters.channels.email.unsubscribe import UnsubscribeLinks
from chainon.adapters.channels.port import ChannelProvider
from chainon.adapters.channels.rcs.provider import PROVIDER as RBM_LINK
from chainon.adapters.channels.rcs.provider import RbmWebhook, RcsProvider
from chainon.adapters.channels.rcs.revocations import RevocationLedger
from chainon.adapters.channels.sandbox import SandboxOutcome, SandboxProvider
from chainon.adapters.channels.sandbox_outcomes import SharedOutcomes
from chainon.adapters.channels.sandbox_receipts import PendingReceipts
from chainon.adapters.channels.smpp.link import SmppLink
from chainon.adapters.channels.smpp.provider import SmppProvider
from chainon.adapters.persistence import postgres_bell as store_bell
from chainon.adapters.persistence.postgres_bell import Ringer
from chainon.audit import AuditTrail, audit_trail_of
from chainon.batching import CommandBatcher
from chainon.campaign_worker import CampaignWorker
from chainon.consuming import ConsumingWorker, LagReport
from chainon.core import Core
from chainon.dispatching import DispatchWorker
from chainon.domain import commands as cmd
from chainon.domain.brand import DEFAULT_PROVIDER
from chainon.domain.channels import Channel
from chainon.email_wiring import email_provider
from chainon.errors import CannotStart
from chainon.event_store import check_store, racing_creation, store_env
from chainon.key_usage import KeyUsage, key_usage_of
from chainon.messagebus import IdempotencyClaim
from chainon.polling import follow
from chainon.projections.catalogue import all_projections
from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.runner import Views
from chainon.projections.topic_feed import TopicFeed
from chainon.rate_limits import RateLimiter, rate_limiter_of
from chainon.record_handlers import ChannelPublisher, CoreHandler, DispatchHandler, SenderRoutes
from chainon.relay import Relay
from chainon.roles import EVERY_ROLE, Role
from chainon.settings import BusKind, Settings, StoreKind
from chainon.store_schema import migrate
from chainon.topics import Topics
from chainon.unsubscribe_links import unsubscribe_links
from chainon.views import views_of
from chainon.webhooks.sealing import secret_box
from chainon.webhooks.worker import WebhookWorker

T = TypeVar("T")
log = structlog.get_logger(__name__)


def provider_links(settings: Settings) -> frozenset[str]:
    """The provider links a dispatch worker on these settings runs: what a route may name."""
    links = {DEFAULT_PROVIDER, *(f"smpp:{link.name}" for link in settings.smpp_links)}
    if settings.email_reply_domain:
        links.add(EMAIL_LINK)
    if settings.rbm_credentials_file is not None:
        links.add(RBM_LINK)
    return frozenset(links)


def make_bus(settings: Settings) -> Bus:
    if settings.bus is BusKind.KAFKA:
        from chainon.adapters.bus.kafka import KafkaBus

        return KafkaBus(
            settings.kafka_bootstrap,
            partitions=settings.kafka_partitions,
            replication=settings.kafka_replication,
        )
    return EmbeddedBus(settings.bus_path, linger=settings.batch_linger)


class Runtime:
    def __init__(
        self, settings: Settings, roles: Iterable[Role] = EVERY_ROLE, *, create: bool = True
    ) -> None:
        """Opens the store (``create``: made when missing) and wires every role."""
        self.settings = settings
        self.roles = frozenset(roles)
        check_store(settings, create=create)
        # The decision cache's size (reads outside a decision replay from the store).
        env = {**store_env(settings), "SINGLE_ROW_TRACKING": "y"}
        if settings.aggregate_cache > 0:  # unset: no cache
            env["AGGREGATE_CACHE_MAXSIZE"] = str(settings.aggregate_cache)
        self.core = racing_creation(
            lambda: Core(
                env,
                default_region=settings.default_region,
                key_cache_seconds=settings.api_key_cache_seconds,
                # The sandbox mails nobody: only a real relay needs the links.
                list_unsubscribe=settings.email() is None or self.unsubscribe_links is not None,
            )
        )
        try:
            racing_creation(lambda: migrate(settings))  # refuses a store a newer Chainon wrote
            self.secrets = secret_box(settings, self.core)
        except CannotStart:
            self.core.close()
            raise
        # The pumping guard's counts are a read model: read where it is kept.
        self.core.destination_guard.store = lambda: self.guard_counts
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chainon-store")
        self.batcher = CommandBatcher(self.core.handle_many, self.call)
        self.topics = Topics(settings.topic_prefix)
        self.bus = make_bus(settings)
        self.publisher = ChannelPublisher(self.bus, self.topics)
        self.provider = SandboxProvider(
            receipt_delay=settings.sandbox_receipt_delay,
            default_outcome=SandboxOutcome(settings.sandbox_outcome),
            # the receipts it owes outlive a restart of the process that sends
            pending=PendingReceipts(settings.data_dir / "sandbox" / "receipts.sqlite3")
            if Role.DISPATCH in self.roles
            else None,
            # set by the API's process, read by the one that dispatches (maybe a child)
            shared=SharedOutcomes(settings.data_dir / "sandbox" / "outcomes.sqlite3"),
        )
        self.providers: dict[str, ChannelProvider] = {self.provider.name: self.provider}
        self.email = self._email_provider()
        if self.email is not None:
            self.providers[self.email.name] = self.email
        if Role.DISPATCH in self.roles:  # only the dispatching process binds to the SMSCs
            for link in settings.smpp_links:
                smpp = SmppProvider(
                    SmppLink(
                        name=link.name,
                        host=link.host,
                        port=link.port,
                        system_id=link.system_id,
                        password=link.password.get_secret_value(),
                        system_type=link.system_type,
                        window=link.window,
                        tps=link.tps,
                        sender_tps=link.sender_tps,
                        validity_period=link.validity_period,
                        # long MO parts the SMSC was answered for survive a restart
                        state_dir=settings.data_dir / "smpp",
                    )
                )
                self.providers[smpp.name] = smpp
        # RCS over RBM: sent by the dispatching process when credentials are set (else RCS
        # goes to the sandbox); RBM's webhooks need only the client token and the bus, so
        # an HTTP process takes them without holding the service account's key.
        defaults: dict[Channel, str] = {}
        if self.email is not None:
            defaults[Channel.EMAIL] = self.email.name
        try:
            rbm = settings.rbm() if Role.DISPATCH in self.roles else None
        except ValueError as exc:
            setting, _, detail = str(exc).partition(": ")
            raise CannotStart(detail, setting=setting) from None
        if rbm is not None:
            rcs = RcsProvider(
                rbm, revocations=RevocationLedger(settings.data_dir / "rcs" / "revoked.sqlite3")
            )
            self.providers[rcs.name] = rcs
            defaults[Channel.RCS] = rcs.name  # one agent per deployment: unrouted senders too
        client_token = settings.rbm_client_token.get_secret_value()
        self.rbm_webhook = (
            RbmWebhook(client_token, self.publisher, default_agent_id=settings.rbm_agent_id)
            if client_token
            else None
        )
        factory = self.core.factory
        self.relay_tracking: TrackingRecorder = racing_creation(factory.tracking_recorder)
        self.relay = Relay(
            self.core,
            self.bus,
            self.relay_tracking,
            self.topics,
            self.call,
            poll_interval=settings.relay_poll_interval,
            linger=settings.batch_linger,
        )
        self.core_worker = ConsumingWorker(
            "core",
            self.bus,
            self.bus.consumer(
                self.topics.group("core"), [self.topics.commands, self.topics.inbound]
            ),
            CoreHandler(self.batcher.handle, self.topics),
        )
        within = settings.receipt_deadline_seconds  # email has no receipts: sent is final
        self.dispatch_worker = DispatchWorker(
            self.bus,
            self.bus.consumer(self.topics.group("dispatch"), [self.topics.outbound]),
            DispatchHandler(
                self.providers,
                SenderRoutes(self.core, self.call, defaults),
                self.bus,
                self.topics,
                receipt_deadlines={Channel.SMS: within, Channel.RCS: within},
            ),
        )
        # What the views role runs beside the read models (``chainon.views_role``).
        self.schedulers = views_role.schedulers(
            lambda: self.views.store,
            self.call,
            self.bus,
            self.topics,
            settings.deadline_poll_interval,
        )
        self.deadlines, self.receipt_deadlines, self.dialogue_deadlines, self.releases = (
            self.schedulers
        )
        # Campaigns: with the store's writer, or the views role (see _runs_campaigns).
        self.campaigns = CampaignWorker(
            self.core,
            lambda: self.views.store,
            self.call,
            interval=settings.deadline_poll_interval,
        )
        self.webhooks = WebhookWorker(
            self.core, settings, self.bus, self.topics, self.call, self.secrets
        )
        self._stopping = asyncio.Event()
        self._wakes = {
            Role.RELAY: asyncio.Event(),
            Role.VIEWS: asyncio.Event(),
            Role.WEBHOOKS: asyncio.Event(),
        }
        self._tasks: list[asyncio.Task[None]] = []
        # Distributed, the store's followers (relay, webhooks) run in other processes than
        # its writers: PostgreSQL's LISTEN/NOTIFY wakes them at a save, not their poll.
        distributed = settings.store is StoreKind.POSTGRES and settings.bus is BusKind.KAFKA
        schema = settings.postgres_schema or "public"
        self._bell = Ringer(settings.postgres_dsn, schema) if distributed else None

    def _email_provider(self) -> EmailProvider | None:
        """Sends through the relay; in the process that dispatches, also receives mail."""
        return email_provider(
            self.settings,
            self.core,
            self.call,
            listens=Role.DISPATCH in self.roles,
            unsubscribe=self.unsubscribe_links,
        )

    @functools.cached_property
    def unsubscribe_links(self) -> UnsubscribeLinks | None:
        """What signs the marketing emails' unsubscribe links, and reads them back."""
        return unsubscribe_links(self.settings)

    @functools.cached_property
    def views(self) -> Views:
        """The read models, opened (and their tables created) only by a process that reads
        or feeds them: the core, relay and dispatch workers never do."""
        fed_by_bus = self.settings.bus is BusKind.KAFKA
        return racing_creation(
            lambda: views_of(
                self.core, self._read_models(), all_projections(), fed_by_bus=fed_by_bus
            )
        )

    @functools.cached_property
    def guard_counts(self) -> ReadModelStore:
        """Where the SMS-pumping guard reads its counts. SQLite: a read-only connection of
        its own, so that a batch of sends never waits for the views' batch in flight (the
        writer's lock; 12 % of the core's time under send-smpp). The counts lag the store
        as the views do either way; the batch's own sends are tallied apart."""
        views = self.views.store  # opened first: the reader finds the tables made
        if self.settings.store is not StoreKind.SQLITE:
            return views  # PostgreSQL's readers never wait for a writer
        from chainon.projections.sqlite import SQLiteReadModels

        return SQLiteReadModels(self.settings.views_path, read_only=True)

    @functools.cached_property
    def rate_limiter(self) -> RateLimiter:
        """Opened by the first request that asks (workers never do)."""
        return rate_limiter_of(self.settings)

    @functools.cached_property
    def audit(self) -> AuditTrail:
        """Opened by the first audited request or command (workers never do); on SQLite
        its entries take turns with the core's writes on the store's own connections."""
        recorder = self.core.recorder
        writes = (
            functools.partial(recorder.datastore.transaction, commit=True)
            if isinstance(recorder, SQLiteApplicationRecorder)
            else None
        )
        return audit_trail_of(self.settings, lambda: self.core.clock(), writes)

    @functools.cached_property
    def key_usage(self) -> KeyUsage:
        return key_usage_of(self.settings, lambda: self.core.clock())

    def _read_models(self) -> ReadModelStore:
        if self.settings.store is StoreKind.SQLITE:
            from chainon.projections.sqlite import SQLiteReadModels

            return SQLiteReadModels(self.settings.views_path)
        from chainon.projections.postgres import PostgresReadModels

        return PostgresReadModels(
            self.settings.postgres_dsn, self.settings.postgres_schema or "public"
        )

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a blocking store call on the thread pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def handle(
        self, command: cmd.Command, idempotency: IdempotencyClaim | None = None
    ) -> cmd.Outcome:
        return await self.batcher.handle(command, idempotency)

    async def caught_up(self, position: int, within: float = 5.0) -> bool:
        """Waits (holding no thread) until the read models include ``position``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while await self.call(lambda: self.views.position) < position:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def recorded(
        self, message: cmd.ReceiveMessage, within: float = 5.0
    ) -> cmd.Outcome | None:
        """Waits until the core recorded (or refused) an inbound message that is on the bus."""
        core = self.core
        deadline = asyncio.get_running_loop().time() + within
        while True:
            outcome = await self.call(
                core.inbound_outcome,
                message.provider,
                message.provider_message_id,
                message.brand_id,
            )
            if outcome is not None or asyncio.get_running_loop().time() > deadline:
                return outcome
            await asyncio.sleep(0.02)

    # Lifecycle

    async def start(self) -> None:
        self._stopping.clear()
        await self._start_bus()
        for provider in self.providers.values():
            await provider.start(self.publisher)
        self._listen_to_saves()
        if self._bell is not None:
            self.core.saved_listeners.append(self._bell.ring)
        tasks: dict[Role, Callable[[], Coroutine[Any, Any, None]]] = {
            Role.CORE: lambda: self.core_worker.run(self._stopping),
            Role.RELAY: lambda: self.relay.run(self._stopping, self._wakes[Role.RELAY]),
            Role.DISPATCH: lambda: self.dispatch_worker.run(self._stopping),
            Role.VIEWS: self._views_feed,
            Role.WEBHOOKS: lambda: self.webhooks.run(self._stopping, self._wakes[Role.WEBHOOKS]),
        }
        self._tasks = [
            asyncio.create_task(run(), name=role.value)
            for role, run in tasks.items()
            if role in self.roles
        ]
        if self._bell is not None and self.roles & {Role.RELAY, Role.WEBHOOKS}:
            dsn, schema = self.settings.postgres_dsn, self.settings.postgres_schema or "public"
            bell = store_bell.listen(dsn, schema, self.wake, self._stopping)
            self._tasks.append(asyncio.create_task(bell, name="store-bell"))
        if Role.VIEWS in self.roles:
            loops = views_role.runs(
                self.schedulers,
                lambda: self.views.store,
                self.call,
                lambda: self.core.clock(),
                self._stopping,
                self.settings.deadline_poll_interval,
            )
            self._tasks += [asyncio.create_task(run, name=name) for name, run in loops.items()]
        if self._runs_campaigns():
            campaigns = self.campaigns.run(self._stopping)
            self._tasks.append(asyncio.create_task(campaigns, name="campaigns"))
        if Role.DISPATCH in self.roles:
            ops_metrics.LINKS.watch(self._smpp_links())

    def _runs_campaigns(self) -> bool:
        """Campaigns write through a core. Embedded, the store's one writer runs them (the
        read models are a file it reads too); distributed, the views worker, beside them."""
        if self.settings.bus is BusKind.EMBEDDED:
            return Role.CORE in self.roles
        return Role.VIEWS in self.roles

    def _smpp_links(self) -> list[SmppProvider]:
        return [p for p in self.providers.values() if isinstance(p, SmppProvider)]

    async def reach_bus(self) -> None:
        """Starts the bus and stops it again: at start, a broker that does not answer is
        one line naming it, before a server process reports it in its own way."""
        await self._start_bus()
        await self.bus.stop()

    async def _start_bus(self) -> None:
        try:
            await self.bus.start()
            await self.bus.ensure_topics(self.topics.all)
        except (BusUnavailable, OSError) as exc:
            await self.bus.stop()
            kafka = self.settings.bus is BusKind.KAFKA
            raise CannotStart(
                f"the bus cannot be reached: {exc}",
                setting="CHAINON_KAFKA_BOOTSTRAP" if kafka else "CHAINON_DATA_DIR",
            ) from None

    async def stop(self) -> None:
        """Finishes the batch in hand, commits, leaves the consumer groups."""
        self._stopping.set()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for task, result in zip(self._tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("role.failed", role=task.get_name(), error=repr(result))
        ops_metrics.LINKS.forget(self._smpp_links())
        for provider in self.providers.values():
            await provider.stop()
        await self.bus.stop()
        self._tasks = []

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if "guard_counts" in self.__dict__ and self.guard_counts is not self.views.store:
            self.guard_counts.close()
        if "views" in self.__dict__:  # opened only if it was used
            self.views.store.close()
        if "rate_limiter" in self.__dict__:
            self.rate_limiter.close()
        if "audit" in self.__dict__:
            self.audit.close()
        self.webhooks.close()
        if self._bell is not None:
            self._bell.close()
        self.core.close()

    async def _views_feed(self) -> None:
        if self.settings.bus is BusKind.KAFKA:
            consumer = self.bus.consumer(self.topics.group("views"), [self.topics.events])
            lag = LagReport("views", consumer)
            feed = TopicFeed(
                self.views, consumer, self.call, unavailable=BusUnavailable, polled=lag.report
            )
            await feed.run(self._stopping)
            return
        await follow(
            lambda: self.call(self.views.feed_from_store),
            self._stopping,
            name="views",
            fastest=0.02,
            slowest=0.5,
            wake=self._wakes[Role.VIEWS],
            linger=self.settings.batch_linger,
        )

    def wake(self) -> None:
        """Something was saved: the relay, views and webhooks of this process look now."""
        for event in self._wakes.values():
            event.set()

    def _listen_to_saves(self) -> None:
        """The relay and the store-fed views of this process wake when its core saves (the
        publish → agent queue latency was mostly their polls); writers in other processes
        are still found by polling."""
        loop = asyncio.get_running_loop()

        def saved() -> None:  # on the saving thread
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.wake)

        self.core.saved_listeners[:] = [saved]
