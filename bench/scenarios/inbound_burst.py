"""Scenario 1, inbound burst: N inbound SMS over M conversations, from the inbound topic
until every one is stored, relayed, and every projection caught up.

Embedded (here), the burst is loaded onto the embedded log by a bus of its own (as channel
adapters would have published it, one conversation per key) before the runtime starts; the
clock runs from ``Runtime.start`` to the moment the read models include the store's last
event, and the peak memory is Chainon's from that start (the loading's is reset). The
runtime plays every role in this one process: the layout of ``CHAINON_EMBEDDED_PROCESSES=1``.
``chainon serve``'s default tree (the core in one process, the views, relay and dispatch in
a child) is the ``embedded-tree`` variant (``inbound_burst_tree``).
Distributed (``inbound_burst_distributed``), the workers are processes of their own, one or
two core workers. Afterwards every message is looked for in the store: a missing, refused
or dead-lettered one fails the scenario.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.accounting import received
from bench.memory import peak_rss, reset_peak
from bench.registry import PROCESS_TREE, TWO_CORES, Context, Kind, measurement
from bench.result import Missing, Result, own_peak_rss
from bench.traffic import BRAND_NUMBER, inbound, receive_commands

if TYPE_CHECKING:
    from chainon.adapters.bus.port import Bus
    from chainon.runtime import Runtime
    from chainon.settings import Settings

LOAD_BATCH = 1000
POLL = 0.02

Reader = Callable[[], Awaitable[int]]  # a position (or a lag) read without blocking the loop


@measurement(
    "inbound-burst",
    Kind.SCENARIO,
    modes=("embedded", PROCESS_TREE, "distributed", TWO_CORES),
)
async def inbound_burst(ctx: Context) -> Result:
    """Inbound burst from the inbound topic to stored, relayed and projected."""
    if ctx.distributed:
        from bench.scenarios.inbound_burst_distributed import distributed_burst

        return await distributed_burst(ctx)
    if ctx.mode == PROCESS_TREE:
        from bench.scenarios.inbound_burst_tree import tree_burst

        return await tree_burst(ctx)
    return await _embedded(ctx)


async def _embedded(ctx: Context) -> Result:
    from chainon.adapters.bus.port import Outgoing
    from chainon.domain.channels import Channel
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime, make_bus
    from chainon.topic_records import conversation_key, dump

    counts = ctx.counts
    settings = ctx.settings()
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = Runtime(settings)
    runtime.core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, BRAND_NUMBER)])
    count = counts.messages
    topics = runtime.topics
    loader = make_bus(settings)
    await loader.start()
    loading = time.perf_counter()
    try:
        await loader.ensure_topics(topics.all)
        for start in range(0, count, LOAD_BATCH):
            batch = receive_commands(min(LOAD_BATCH, count - start), counts.conversations, start)
            await loader.publish(
                [
                    Outgoing(topics.inbound, conversation_key(m.sender, m.recipient), dump(m))
                    for m in batch
                ]
            )
    finally:
        await loader.stop()
    loaded = time.perf_counter() - loading
    head_before = runtime.core.recorder.max_notification_id() or 0
    # The peak memory from here on is Chainon's, not the loading's.
    gc.collect()
    reset_peak(os.getpid())

    started = time.perf_counter()
    await runtime.start()
    try:
        with ctx.stages() as cpu:
            marks = await until_caught_up(_progress(runtime), started, count)
        seconds = time.perf_counter() - started
        dead = await runtime.bus.consumer("bench-dead-letters", [topics.dlq(topics.inbound)]).lag()
    finally:
        await runtime.stop()
    try:
        ids = (m.provider_message_id for m in inbound(count, counts.conversations))
        found = await asyncio.to_thread(received, runtime.core, ids)
        head = runtime.core.recorder.max_notification_id() or 0
    finally:
        runtime.close()
    return embedded_result(
        ctx,
        found=found,
        dead_letters=sum(dead.values()),
        seconds=seconds,
        events=head - head_before,
        rss={"chainon (embedded, one process)": peak_rss(os.getpid()) or own_peak_rss()},
        cpu=cpu.seconds,
        extra={**marks, "load_records_per_second": round(count / loaded, 1)},
        settings=settings,
    )


def embedded_result(
    ctx: Context,
    *,
    found: dict[str, int],
    dead_letters: int,
    seconds: float,
    events: int,
    rss: dict[str, int],
    cpu: dict[str, float],
    extra: dict[str, float | int],
    settings: Settings,
) -> Result:
    """The burst's figures on SQLite, one process or the tree: every message stored once,
    none refused or dead-lettered, or the scenario fails."""
    count = ctx.counts.messages
    if found["received"] != count or found["refused"] or dead_letters:
        raise Missing(
            f"of {count} messages, {found['received']} stored, "
            f"{found['refused']} refused, {dead_letters} dead-lettered"
        )
    return Result(
        name="inbound-burst",
        mode=ctx.mode,
        count=count,
        seconds=seconds,
        unit="messages",
        limit="sqlite.insert",
        baselines=("eventsourcing.sqlite.save-each", "eventsourcing.sqlite.save-100"),
        rss=rss,
        cpu=cpu,
        extra={
            "conversations": found["conversations"],
            "messages_found": found["received"],
            "events": events,
            "events_per_second": round(events / seconds, 1),
            **{k: round(v, 3) for k, v in extra.items()},
        },
        settings=settings.model_dump(mode="json"),
    )


@dataclass(frozen=True)
class Progress:
    """Where a burst's progress is read, each reader awaited so as not to block the loop."""

    lag: Reader  # inbound records the core's group has not taken yet
    head: Reader  # the store's last notification id
    relayed: Reader  # the relay's tracked position
    projected: Reader  # the read models' position
    check: Callable[[], None] = lambda: None  # raises when what is measured died
    tail: Callable[[], str] | None = None  # what it logged, shown when a stage is overdue


async def until_caught_up(progress: Progress, started: float, count: int) -> dict[str, float]:
    """Waits for the core's group to have taken every inbound record, then for the relay
    and the read models to reach the store's head; returns when each happened (seconds
    from ``started``)."""
    deadline = started + 120 + count / 20
    marks: dict[str, float] = {}

    async def wait(stage: str, done: Callable[[], Awaitable[bool]]) -> None:
        while not await done():
            progress.check()
            if time.perf_counter() > deadline:
                late = f"not {stage} after {deadline - started:.0f}s"
                raise Missing(late if progress.tail is None else f"{late}:\n{progress.tail()}")
            await asyncio.sleep(POLL)
        marks[f"{stage}_seconds"] = time.perf_counter() - started

    async def stored() -> bool:
        return await progress.lag() <= 0

    await wait("stored", stored)
    head = await progress.head()

    async def relayed() -> bool:
        return await progress.relayed() >= head

    async def projected() -> bool:
        return await progress.projected() >= head

    await wait("relayed", relayed)
    await wait("projected", projected)
    return marks


def store_progress(
    runtime: Runtime,
    bus: Bus,
    call: Callable[..., Awaitable[Any]],
    projected: Reader,
    *,
    check: Callable[[], None] = lambda: None,
    tail: Callable[[], str] | None = None,
) -> Progress:
    """The core group's lag on ``bus``, and the store's head and the relay's position read
    from ``runtime``'s files through ``call`` (its pool, or a thread of this process)."""
    topics = runtime.topics
    watcher = bus.consumer(topics.group("core"), [topics.inbound])

    async def lag() -> int:
        return sum((await watcher.lag()).values())

    async def head() -> int:
        return await call(runtime.core.recorder.max_notification_id) or 0

    async def relayed() -> int:
        return await call(runtime.relay_tracking.max_tracking_id, "relay") or 0

    return Progress(lag, head, relayed, projected, check, tail)


def _progress(runtime: Runtime) -> Progress:
    """The positions of a runtime playing every role in this process."""
    return store_progress(
        runtime, runtime.bus, runtime.call, lambda: runtime.call(lambda: runtime.views.position)
    )
