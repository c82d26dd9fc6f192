"""Chainon in the distributed mode, as one scenario runs it: PostgreSQL, Kafka, and the
workers as their own processes (``bench.fleet``).

This process plays the parts around them: a channel adapter publishing on the inbound
topic with Chainon's Kafka bus adapter; an API process handling commands (a ``Runtime``
of no role: its core and batcher write to the store, as ``chainon serve`` does); and an
observer that reads the store, the relay's tracking and the consumer groups' committed
offsets (never joining a group) to tell when everything was stored, relayed and
projected.

Before a scenario's clock starts, ``warm_up`` makes sure every worker is working: rounds
of one inbound message per partition of the inbound topic, until each core worker's
metrics show it handled some of the last round (so the group has settled with all of
them), then until the warm-up is relayed and projected.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bench.accounting import RECEIVED, Tally
from bench.fleet import Fleet
from bench.result import Missing

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    from chainon.settings import Settings

POLL = 0.05
WARM_UP = "bench-warm-up"  # the provider of warm-up messages, kept apart from a scenario's


class Deployment:
    def __init__(self, settings: Settings, directory: Path, roles: dict[str, int]) -> None:
        from chainon.runtime import Runtime, make_bus

        self.settings = settings
        self.roles = roles
        self.runtime = Runtime(settings, roles=())
        self.core = self.runtime.core
        self.topics = self.runtime.topics
        self.bus = make_bus(settings)
        self.fleet = Fleet(settings, directory)
        self._stack = contextlib.AsyncExitStack()
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Self:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        stack = self._stack
        stack.callback(self.runtime.close)
        try:
            await self.bus.start()
            stack.push_async_callback(self.bus.stop)
            await self.bus.ensure_topics(self.topics.all)
            bootstrap = self.settings.kafka_bootstrap
            self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench")
            await self._admin.start()
            stack.push_async_callback(self._admin.close)
            self._offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench")
            await self._offsets.start()
            stack.push_async_callback(self._offsets.stop)
            stack.callback(self.fleet.stop)  # the first thing undone: the workers, by PID
            await self.fleet.start(self.roles)
        except BaseException:
            await stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    # What the observer reads

    async def head(self) -> int:
        return await asyncio.to_thread(self.core.recorder.max_notification_id) or 0

    async def relayed(self) -> int:
        from chainon.relay import NAME

        return await asyncio.to_thread(self.runtime.relay_tracking.max_tracking_id, NAME) or 0

    async def lag(self, group: str, topic: str) -> int:
        """Records of ``topic`` the group has not committed yet."""
        from aiokafka import TopicPartition

        assert self._admin is not None
        assert self._offsets is not None
        partitions = [TopicPartition(topic, p) for p in range(self.settings.kafka_partitions)]
        ends = await self._offsets.end_offsets(partitions)
        committed = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
        behind = 0
        for tp, end in ends.items():
            done = committed.get(tp)
            behind += end - max(done.offset if done is not None else 0, 0)
        return behind

    async def projected(self) -> bool:
        """The views worker committed every event on the events topic (it commits only
        after the read models applied them)."""
        return await self.lag(self.topics.group("views"), self.topics.events) == 0

    async def dead_letters(self) -> int:
        """Records on the dead-letter topics."""
        from aiokafka import TopicPartition

        assert self._offsets is not None
        main = (self.topics.commands, self.topics.inbound, self.topics.outbound)
        partitions = [
            TopicPartition(self.topics.dlq(topic), p)
            for topic in main
            for p in range(self.settings.kafka_partitions)
        ]
        return sum((await self._offsets.end_offsets(partitions)).values())

    async def handled(self, role: str = "core") -> dict[str, float]:
        """Inbound records each worker of ``role`` has handled, from its metrics."""
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        found: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=2) as http:
            for name in self.fleet.named(role):
                try:
                    page = await http.get(f"http://127.0.0.1:{self.fleet.ports[name]}/metrics")
                except httpx.HTTPError:
                    found[name] = 0.0  # not serving yet
                    continue
                found[name] = sum(
                    sample.value
                    for family in text_string_to_metric_families(page.text)
                    for sample in family.samples
                    if sample.name == "chainon_bus_records_total"
                    and sample.labels.get("topic") == self.topics.inbound
                )
        return found

    async def wait(self, what: str, done: Callable[[], Awaitable[bool]], deadline: float) -> None:
        """Polls ``done`` until it holds; raises Missing after ``deadline`` (monotonic), and
        WorkerFailed as soon as a worker exits."""
        while not await done():
            self.fleet.check()
            if time.monotonic() > deadline:
                raise Missing(f"not {what} in time")
            await asyncio.sleep(POLL)

    async def caught_up(self, deadline: float) -> None:
        """Until the relay has published everything stored so far, and, when the views
        run, until they applied it."""
        head = await self.head()

        async def relayed() -> bool:
            return await self.relayed() >= head

        await self.wait("relayed", relayed, deadline)
        if "views" in self.roles:
            await self.wait("projected", self.projected, deadline)

    # Before the clock starts

    async def warm_up(self, brand_number: str, timeout: float = 120.0) -> dict[str, Any]:
        """Until every core worker handles records and the views follow; returns how long
        it took and how many rounds."""
        from chainon.adapters.bus.port import Outgoing
        from chainon.domain import commands as cmd
        from chainon.domain.channels import Channel
        from chainon.topic_records import conversation_key, dump

        started = time.monotonic()
        deadline = started + timeout
        senders = _one_sender_per_partition(brand_number, self.settings.kafka_partitions)
        tally = Tally(self.core, (RECEIVED,), after=await self.head())
        before = await self.handled()
        for round_ in itertools.count(1):
            messages = [
                cmd.ReceiveMessage(
                    provider=WARM_UP,
                    provider_message_id=f"{round_}-{partition}",
                    channel=Channel.SMS,
                    sender=sender,
                    recipient=brand_number,
                    body="warm-up",
                )
                for partition, sender in enumerate(senders)
            ]
            await self.bus.publish(
                [
                    Outgoing(self.topics.inbound, conversation_key(m.sender, m.recipient), dump(m))
                    for m in messages
                ]
            )
            wanted = round_ * len(senders)

            async def stored(wanted: int = wanted) -> bool:
                return (await asyncio.to_thread(tally.advance))[RECEIVED] >= wanted

            await self.wait("warmed up (stored)", stored, deadline)
            after = await self.handled()
            if all(after[name] > before.get(name, 0.0) for name in after):
                break
            before = after
        await self.caught_up(deadline)
        return {"warm_up_seconds": round(time.monotonic() - started, 3), "warm_up_rounds": round_}


def _one_sender_per_partition(brand_number: str, partitions: int) -> list[str]:
    """Consumer numbers whose conversations' keys land on partitions 0, 1, … in turn (Kafka's
    default partitioner: murmur2 of the key)."""
    from aiokafka.partitioner import DefaultPartitioner

    from chainon.topic_records import conversation_key

    every = list(range(partitions))
    found: dict[int, str] = {}
    for n in itertools.count():
        sender = f"+33699{n:06d}"
        key = conversation_key(sender, brand_number).encode()
        found.setdefault(DefaultPartitioner()(key, every, every), sender)
        if len(found) == partitions:
            return [found[p] for p in every]
    raise AssertionError("unreachable")
