"""Scenario 3, steady load: R inbound messages a second for S seconds, and the latency from
each one's publication to the agent queue showing it.

R is half the rate ``inbound-burst`` reached in the same mode earlier in the run (the
size's fixed rate when no burst ran), so each mode carries the same share of what it can
take. A steady load is a system in its stride: before the clock, as many conversations as
the load will open are already open (one message each, recorded and shown); the load then
opens its new ones at a steady share (one message in ten, as the burst's ten messages a
conversation) and spreads the rest over every open conversation. A wave of new
conversations all at once is the burst's matter.

Message k is due at ``t0 + k / R``; the publisher puts every message that is due on the
inbound topic (keyed by conversation) without ever waiting for Chainon: an open loop, as
consumers do not slow down when a brand's systems do. Each latency is counted from the
moment its message was *due*, so that a publisher held up by a busy process (embedded, it
shares Chainon's event loop, as a channel adapter does) cannot hide the wait; the latency
from the broker's acknowledgement is reported beside it. If Chainon cannot keep up, the
latencies grow and the achieved rate falls short of R: both are reported as they are.

"Shown" is decided by ``bench.queue_watch``, a process of its own reading the agent queue
(``changes_since``) as an agent's console would: a message is shown once its conversation's
row includes it. Embedded in one process, the publisher is the Chainon process's own bus
(publishing wakes its core worker, as the embedded channel adapters do); through
``chainon serve``'s tree (``…@embedded-tree``), it is this process writing into the tree's
embedded log, whose doorbell wakes the tree's core, as a channel adapter of another process
would; distributed, it is this process with Chainon's Kafka bus adapter, and the core,
relay and views workers are processes of their own, warmed up first. Every message must be
shown, stored once and not dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bench.accounting import received
from bench.fleet import ROOT, environment, guarded
from bench.read_your_writes import Prober
from bench.registry import PROCESS_TREE, Context, Kind, measurement
from bench.result import Latency, Missing, Result, own_peak_rss
from bench.traffic import BRAND_NUMBER, Inbound, commands_of, earlier_inbound, steady_inbound

if TYPE_CHECKING:
    from bench.scenarios.inbound_burst_tree import Serve
    from chainon.adapters.bus.port import Bus, Outgoing
    from chainon.runtime import Runtime

READY_SECONDS = 120
# The publisher looks for due messages at most this often, as an adapter taking messages
# from many connections writes what came in meanwhile together; a message's latency still
# counts from its due time, so the wait is in the figures.
PUBLISH_TICK = 0.005


@measurement("steady-load", Kind.SCENARIO, modes=("embedded", PROCESS_TREE, "distributed"))
async def steady_load(ctx: Context) -> Result:
    """Inbound messages at a steady rate; latency from publication to the agent queue."""
    from chainon.adapters.bus.port import Outgoing
    from chainon.domain.channels import Channel
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime
    from chainon.topic_records import conversation_key, dump

    counts = ctx.counts
    rate, rate_from = steady_rate(ctx)
    count = rate * counts.steady_seconds
    # As many new conversations as the burst has for as many messages (one in ten), and
    # as many open before the clock: a system in its stride.
    conversations = max(1, count * counts.conversations // counts.messages)
    existing = conversations
    settings = ctx.settings()
    # Distributed, this process is not Chainon's worker: its own logs would only be noise.
    level = "WARNING" if ctx.distributed else settings.log_level
    configure_logging(level, json=settings.log_json)
    ids = [m.provider_message_id for m in steady_inbound(count, conversations, existing)]
    extra: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        tree = ctx.mode == PROCESS_TREE
        if ctx.distributed:
            from bench.deployment import Deployment

            roles = {"core": 1, "relay": 1, "views": 1}
            deployment = Deployment(settings, ctx.data_dir / "workers", roles)
            runtime, bus = deployment.runtime, deployment.bus
        else:
            runtime = Runtime(settings)  # the tree's observer: it only reads its files
            stack.callback(runtime.close)
            bus = runtime.bus
        topics = runtime.topics

        def records_of(messages: list[Inbound]) -> list[Outgoing]:
            """What the channel adapter publishes for these messages."""
            return [
                Outgoing(topics.inbound, conversation_key(m.sender, m.recipient), dump(m))
                for m in commands_of(messages)
            ]

        def records(first: int, last: int) -> list[Outgoing]:
            """Messages first to last - 1 of the load."""
            return records_of(steady_inbound(count, conversations, existing, first, last))

        brand = runtime.core.register_brand(
            slug="bench", name="Bench", senders=[(Channel.SMS, BRAND_NUMBER)]
        )
        if ctx.distributed:
            await stack.enter_async_context(deployment)
            extra |= await deployment.warm_up(BRAND_NUMBER)
            await runtime.bus.start()  # the probe's API publishes with it, as an API does
            stack.push_async_callback(runtime.bus.stop)
            caught_up = functools.partial(deployment.caught_up, time.monotonic() + READY_SECONDS)
        elif tree:
            from bench.memory import Watch
            from bench.scenarios.inbound_burst_tree import ready, spawn

            key = runtime.core.api_keys.issue(brand.id, "bench probe")
            serve = spawn(ctx, settings)
            stack.callback(serve.stop)
            await ready(serve)
            await bus.start()
            stack.push_async_callback(bus.stop)
            watch = stack.enter_context(Watch({"chainon serve (tree)": serve.process.pid}, 0.25))
            caught_up = functools.partial(_tree_caught_up, runtime, serve)
            await caught_up()
        else:
            await runtime.start()
            stack.push_async_callback(runtime.stop)
            await runtime.caught_up(runtime.core.recorder.max_notification_id() or 0, 30)
            caught_up = functools.partial(_caught_up, runtime)
        await _open_earlier(bus, records_of(earlier_inbound(existing)), runtime, caught_up)
        output = ctx.data_dir / "shown.json"
        arguments = (str(brand.id), str(count), str(conversations), str(output))
        watcher = await asyncio.create_subprocess_exec(
            *guarded("-m", "bench.queue_watch", *arguments),
            cwd=ROOT,
            env=environment(settings),
            stdout=asyncio.subprocess.PIPE,
        )
        stack.push_async_callback(_stop, watcher)
        assert watcher.stdout is not None
        if await asyncio.wait_for(watcher.stdout.readline(), READY_SECONDS) != b"ready\n":
            raise RuntimeError("the queue watcher did not start")
        probing = asyncio.Event()
        if tree:
            prober = await Prober.over_http(f"http://127.0.0.1:{serve.port}", key)
        else:
            prober = await Prober.ready(runtime, brand.id)
        with ctx.stages(threads=not (ctx.distributed or tree)) as cpu:
            probes = asyncio.create_task(prober.run(probing))
            t0, acked = await _publish(bus, records, count, rate)
            probing.set()
            # Past the deadline, _stop asks it to write what it saw; the count tells the rest.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watcher.wait(), timeout=120 + count / 20)
            await _stop(watcher)
            probed = await probes
        watched = json.loads(output.read_text())
        found = await asyncio.to_thread(received, runtime.core, ids)
        if ctx.distributed:
            dead = await deployment.dead_letters()
            extra["records_handled_by_core"] = sum((await deployment.handled()).values())
            rss = deployment.fleet.rss | {"bench (publisher)": own_peak_rss()}
        else:
            lags = await bus.consumer("bench-dlq", [topics.dlq(topics.inbound)]).lag()
            dead = sum(lags.values())
            if tree:
                rss = dict(watch.peaks) | {"bench (publisher, observer)": own_peak_rss()}
            else:
                rss = {"chainon (embedded, one process, with the publisher)": own_peak_rss()}
    if probed.failures:
        raise Missing(f"the read-your-writes probe failed: {probed.failures[:3]}")
    shown: dict[str, float] = watched["shown"]
    due = {i: t0 + k / rate for k, i in enumerate(ids)}
    if len(shown) != count or found["received"] != count or found["refused"] or dead:
        raise Missing(
            f"of {count} messages, {len(shown)} shown in the agent queue, "
            f"{found['received']} stored, {found['refused']} refused, {dead} dead-lettered"
        )
    last = max(shown.values())
    return Result(
        name="steady-load",
        mode=ctx.mode,
        count=count,
        seconds=last - t0,
        unit="messages",
        latency=Latency.of([shown[i] - due[i] for i in ids]),
        latency_of=(
            f"due → shown in the agent queue (looked every {watched['look_interval_ms']} ms)"
        ),
        limit="postgres.insert" if ctx.distributed else "sqlite.insert",
        baselines=tuple(
            f"eventsourcing.{'postgres' if ctx.distributed else 'sqlite'}.{how}"
            for how in ("save-each", "save-100")
        ),
        rss={**rss, "bench queue watcher": watched["peak_rss"]},
        cpu=cpu.seconds,
        extra={
            "target_rate": rate,
            "rate_from": rate_from,
            "target_seconds": counts.steady_seconds,
            "published_rate": round(count / (max(acked) - t0), 1),
            "shown_rate": round(count / (last - t0), 1),
            "behind_at_end_seconds": round(last - (t0 + count / rate), 3),
            "p99_from_acknowledged_ms": round(
                Latency.of([shown[i] - acked[k] for k, i in enumerate(ids)]).p99, 1
            ),
            **_split("due_to_stored", [watched["stored"][i] - due[i] for i in ids]),
            **_split("stored_to_shown", [shown[i] - watched["stored"][i] for i in ids]),
            **(_quantiles("answer_to_readable", probed.seconds) if probed.seconds else {}),
            "answer_to_readable_of": (
                "the API's answer to POST /v1/sandbox/inbound → GET /v1/queue with its "
                f"min_position answered ({len(probed.seconds)} probes in the load, one at a time)"
            ),
            "answer_to_readable_not_caught_up": probed.not_caught_up,
            # answered "accepted" without a position: the core had not recorded it in time
            "answer_to_readable_unrecorded": probed.unrecorded,
            "conversations": found["conversations"],
            "conversations_open_before": existing,
            "watcher_looks": watched["looks"],
            "watcher_cpu_seconds": watched["cpu_seconds"],
            **extra,
        },
        settings=settings.model_dump(mode="json"),
    )


async def _open_earlier(
    bus: Bus,
    records: list[Outgoing],
    runtime: Runtime,
    caught_up: Callable[[], Awaitable[object]],
) -> None:
    """Publishes one message into each conversation the load finds open and waits, before
    the clock starts, until each is recorded and the views have them."""
    if not records:
        return
    await bus.publish(records)
    ids = [f"h{c}" for c in range(len(records))]
    deadline = time.monotonic() + READY_SECONDS
    while (await asyncio.to_thread(received, runtime.core, ids))["received"] < len(ids):
        if time.monotonic() > deadline:
            raise Missing(f"the {len(ids)} conversations open before the load were not recorded")
        await asyncio.sleep(0.2)
    await caught_up()


async def _caught_up(runtime: Runtime) -> None:
    head = await asyncio.to_thread(runtime.core.recorder.max_notification_id) or 0
    if not await runtime.caught_up(head, READY_SECONDS):
        raise Missing("the views did not catch up with the conversations open before the load")


async def _tree_caught_up(observer: Runtime, serve: Serve) -> None:
    """Until every read model of the tree reached the store's head, read from its files."""

    def behind() -> bool:
        head = observer.core.recorder.max_notification_id() or 0
        return min(status.position for status in observer.views.status()) < head

    deadline = time.monotonic() + READY_SECONDS
    while await asyncio.to_thread(behind):
        serve.check()
        if time.monotonic() > deadline:
            raise Missing("the tree's views did not catch up before the load")
        await asyncio.sleep(0.05)


def steady_rate(ctx: Context) -> tuple[int, str]:
    """Half the rate the inbound burst reached in this mode earlier in the same run, so
    that each mode is loaded alike, whatever the machine; without a burst in the run, the
    size's fixed rate (and the result says so)."""
    burst = ctx.measured.get(f"inbound-burst@{ctx.mode}")
    if burst:
        rate = max(1, round(burst / 2))
        return rate, f"half of inbound-burst@{ctx.mode} in this run ({burst:,.0f}/s)"
    return ctx.counts.steady_rate, f"fixed for this size: no inbound-burst@{ctx.mode} in this run"


async def _publish(
    bus: Bus, records: Callable[[int, int], list[Outgoing]], count: int, rate: int
) -> tuple[float, list[float]]:
    """Publishes message k at ``t0 + k / rate``, each batch of due messages without waiting
    for the one before (its records made when due, as an adapter makes them); returns t0
    and when each message was acknowledged (monotonic)."""
    acked = [0.0] * count
    sending: list[asyncio.Task[None]] = []

    async def send(first: int, last: int) -> None:
        await bus.publish(records(first, last))
        now = time.monotonic()
        for k in range(first, last):
            acked[k] = now

    t0 = time.monotonic()
    k = 0
    while k < count:
        due = min(count, int((time.monotonic() - t0) * rate) + 1)
        if due > k:
            sending.append(asyncio.create_task(send(k, due)))
            k = due
        await asyncio.sleep(max(t0 + k / rate - time.monotonic(), PUBLISH_TICK))
    await asyncio.gather(*sending)
    return t0, acked


def _quantiles(name: str, seconds: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of one latency, in milliseconds, and how many samples."""
    latency = Latency.of(seconds)
    return {
        f"{name}_p50_ms": round(latency.p50, 1),
        f"{name}_p95_ms": round(latency.p95, 1),
        f"{name}_p99_ms": round(latency.p99, 1),
        f"{name}_samples": latency.samples,
    }


def _split(name: str, seconds: list[float]) -> dict[str, float]:
    """The median and p99 of one part of the latency, in milliseconds."""
    latency = Latency.of(seconds)
    return {f"{name}_p50_ms": round(latency.p50, 1), f"{name}_p99_ms": round(latency.p99, 1)}


async def _stop(watcher: asyncio.subprocess.Process) -> None:
    """SIGTERM to the watcher, by its PID: it writes what it saw and exits."""
    if watcher.returncode is None:
        watcher.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher.wait(), 10)
        if watcher.returncode is None:
            watcher.kill()
            await watcher.wait()
