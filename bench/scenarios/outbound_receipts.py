"""Scenario 2, outbound with receipts: N sends through the sandbox provider, each with its
delivery receipt back, from the first send to the last delivery recorded.

Each send is a ``SendMessage`` to a recipient of its own (a campaign), handed to
``Runtime.handle`` as the API hands it, ``CONCURRENCY`` at a time: concurrent commands are
decided and saved together by the runtime's batcher. Then the whole path: ``MessageQueued``
→ the relay → the outbound topic → dispatch → the sandbox (a receipt ``RECEIPT_DELAY``
later) → ``RecordSent`` and ``RecordReceipt`` on the inbound topic → the core → delivered.

Embedded, all of it runs in this process. Distributed, this process is the API process (a
runtime of no role, handling the commands into PostgreSQL as ``chainon serve`` does) and the
core, relay and dispatch workers are processes of their own, warmed up first.

The clock runs from the first send to the last ``MessageDelivered``, by the events' own
timestamps; each message's latency is its send to its delivery recorded. Every send must be
accepted and delivered (none failed), or the scenario fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bench.accounting import DELIVERED, FAILED, Tally, delivered
from bench.registry import Context, Kind, measurement
from bench.result import Latency, Missing, Result, own_peak_rss
from bench.traffic import BRAND_NUMBER, spread_number

if TYPE_CHECKING:
    from chainon.runtime import Runtime

CONCURRENCY = 500  # API clients, each with one send in flight
RECEIPT_DELAY = 0.01  # seconds from the sandbox's acceptance to its receipt
BODY = "Votre colis arrive demain entre 9h et 12h. Repondez STOP pour ne plus recevoir."
POLL = 0.05
WARM_UP_SENDS = 4
WARM_UP_FIRST = 10_000_000  # the warm-up's recipients: none of the measured ones


@measurement("outbound-receipts", Kind.SCENARIO, modes=("embedded", "distributed"))
async def outbound_receipts(ctx: Context) -> Result:
    """Sends through the sandbox, each with a delivery receipt back, to all delivered."""
    from chainon.domain.channels import Channel
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime

    settings = ctx.settings(sandbox_receipt_delay=RECEIPT_DELAY)
    # Distributed, this process is not Chainon's worker: its own logs would only be noise.
    level = "WARNING" if ctx.distributed else settings.log_level
    configure_logging(level, json=settings.log_json)
    extra: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        if ctx.distributed:
            from bench.deployment import Deployment

            roles = {"core": 1, "relay": 1, "dispatch": 1}
            deployment = Deployment(settings, ctx.data_dir / "workers", roles)
            runtime = deployment.runtime
            check = deployment.fleet.check
        else:
            runtime = Runtime(settings)
            stack.callback(runtime.close)
            check = _nothing
        brand = runtime.core.register_brand(
            slug="bench", name="Bench", senders=[(Channel.SMS, BRAND_NUMBER)]
        )
        if ctx.distributed:
            await stack.enter_async_context(deployment)
            extra |= await deployment.warm_up(BRAND_NUMBER)
            began = time.monotonic()
            await _send_and_wait(runtime, brand.id, WARM_UP_SENDS, WARM_UP_FIRST, check)
            extra["warm_up_sends_seconds"] = round(time.monotonic() - began, 3)
        else:
            await runtime.start()
            stack.push_async_callback(runtime.stop)
        count = ctx.counts.sends
        with ctx.stages(threads=not ctx.distributed) as cpu:
            sent_at, accepted, delivered_at = await _send_and_wait(
                runtime, brand.id, count, 0, check
            )
        rss = deployment.fleet.rss if ctx.distributed else {}
    first, last = min(sent_at.values()), max(delivered_at.values())
    latencies = [delivered_at[m] - sent_at[m] for m in sent_at]
    return Result(
        name="outbound-receipts",
        mode=ctx.mode,
        count=count,
        seconds=last - first,
        unit="messages",
        latency=Latency.of(latencies),
        latency_of="send (Runtime.handle) → delivery recorded",
        limit="postgres.insert" if ctx.distributed else "sqlite.insert",
        baselines=tuple(
            f"eventsourcing.{'postgres' if ctx.distributed else 'sqlite'}.{how}"
            for how in ("save-each", "save-100")
        ),
        cpu=cpu.seconds,
        rss={
            **rss,
            (
                "chainon API process (this one)"
                if ctx.distributed
                else "chainon (embedded, one process)"
            ): own_peak_rss(),
        },
        extra={
            "delivered": len(delivered_at),
            "accepted_per_second": round(count / (max(accepted.values()) - first), 1),
            "send_accepted_p99_ms": round(
                Latency.of([at - sent_at[m] for m, at in accepted.items()]).p99, 1
            ),
            "concurrency": CONCURRENCY,
            "receipt_delay_seconds": RECEIPT_DELAY,
            **extra,
        },
        settings=settings.model_dump(mode="json"),
    )


def _nothing() -> None:
    pass


async def _send_and_wait(
    runtime: Runtime, brand_id: UUID, count: int, first: int, check: Any
) -> tuple[dict[UUID, float], dict[UUID, float], dict[UUID, float]]:
    """Hands ``count`` sends to the runtime, each to its own recipient (``spread_number``
    from ``first``), then waits until each is delivered; returns, per message, when it was sent,
    accepted and delivered (POSIX seconds)."""
    from chainon.domain import commands as cmd

    core = runtime.core
    tally = Tally(core, (DELIVERED, *FAILED), after=core.recorder.max_notification_id() or 0)
    sent_at: dict[UUID, float] = {}
    accepted: dict[UUID, float] = {}
    refused: list[BaseException] = []

    unsent = iter(range(count))

    async def client() -> None:
        """One API client: a send, its answer, the next send."""
        for i in unsent:
            command = cmd.SendMessage(brand_id=brand_id, to=spread_number(first + i), body=BODY)
            at = time.time()
            try:
                outcome = await runtime.handle(command)
            except Exception as exc:
                refused.append(exc)
                continue
            if outcome.message_id is None or outcome.refused:
                refused.append(RuntimeError(outcome.refused or "no message id"))
                continue
            sent_at[outcome.message_id] = at
            accepted[outcome.message_id] = time.time()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(min(CONCURRENCY, count))))
    if refused:
        raise Missing(f"{len(refused)} of {count} sends refused: {refused[0]!r}")
    deadline = started + 120 + count / 20
    while (counts := await asyncio.to_thread(tally.advance))[DELIVERED] < count:
        check()
        if failed := sum(counts[topic] for topic in FAILED):
            raise Missing(f"{failed} of {count} sends failed or expired")
        if time.monotonic() > deadline:
            raise Missing(f"{counts[DELIVERED]} of {count} delivered by the deadline")
        await asyncio.sleep(POLL)
    delivered_at = await asyncio.to_thread(delivered, core, set(sent_at))
    if len(delivered_at) != count:
        raise Missing(f"{len(delivered_at)} of {count} sends delivered in the store")
    return sent_at, accepted, delivered_at
