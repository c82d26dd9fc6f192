"""The send path through ``chainon serve``'s default process tree (``…@embedded-tree``):
the core and the API in the parent, dispatch (which binds the SMPP link), the relay, the
views and the webhooks in the child it supervises, on the settings and the SMPP link of
the one-process variant, passed as its ``CHAINON_*`` variables.

This process sets the brand up in the store (its sender routed to the link, its API key
issued) before ``chainon serve`` starts, then only reads: the tree answers ``/readyz`` and
its ``/metrics`` shows the link bound before the clock starts, so its two interpreters'
start-up and the bind are not timed. The same load process sends to the tree's port; the
clock stops when the store holds as many deliveries as sends were accepted (read from the
store's notification log, which the parent's core writes on each receipt).
"""

from __future__ import annotations

import asyncio
import time

from bench.accounting import DELIVERED, Tally
from bench.memory import Watch
from bench.registry import Context
from bench.result import Missing, Result, own_peak_rss
from bench.scenarios.inbound_burst_tree import PROCESSES, START_WITHIN, Serve, ready, spawn
from bench.scenarios.send_smpp import (
    LINK,
    brand_key,
    count_delivered,
    deadline_of,
    http_load,
    link,
    send_result,
)


async def tree_send(ctx: Context, name: str, batch: int, concurrency: int) -> Result:
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime

    settings = ctx.settings(smpp_links=[link(ctx)])
    configure_logging(settings.log_level, json=settings.log_json)
    observer = Runtime(settings)  # not started: it sets the brand up, then only reads
    try:
        key = brand_key(observer.core)
        tally = Tally(
            observer.core, (DELIVERED,), after=observer.core.recorder.max_notification_id() or 0
        )
        serve = spawn(ctx, settings)
        try:
            await ready(serve)
            await _bound(serve)
            with Watch({"chainon serve (tree)": serve.process.pid}, interval=0.25) as watch:
                cpu = ctx.stages(threads=False).start()
                started = time.perf_counter()
                requests = await http_load(ctx, serve.port, key, batch, concurrency)
                accepted_seconds = time.perf_counter() - started
                await _until_delivered(ctx, tally, len(requests["accepted"]), serve, started)
                seconds = time.perf_counter() - started
                cpu.stop()
            rss = dict(watch.peaks)
        finally:
            serve.stop()
        delivered = await count_delivered(observer.core, requests)
    finally:
        observer.close()
    return send_result(
        ctx,
        name,
        batch,
        concurrency,
        requests=requests,
        delivered=delivered,
        seconds=seconds,
        accepted_seconds=accepted_seconds,
        rss={**rss, "bench (observer)": own_peak_rss()},
        cpu=cpu.seconds,
        settings=settings,
        extra={"processes": PROCESSES},
    )


async def _bound(serve: Serve) -> None:
    """Until the tree's ``/metrics`` (the parent's, with its child's) shows the link bound."""
    import httpx

    up = f'link="smpp:{LINK}"'
    deadline = time.monotonic() + START_WITHIN
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            serve.check()
            text = (await http.get(f"http://127.0.0.1:{serve.port}/metrics")).text
            if any(
                line.startswith("chainon_smpp_link_up{") and up in line and line.endswith(" 1.0")
                for line in text.splitlines()
            ):
                return
            if time.monotonic() > deadline:
                raise Missing(f"the tree's SMPP link was not bound in {START_WITHIN:.0f}s")
            await asyncio.sleep(0.1)


async def _until_delivered(
    ctx: Context, tally: Tally, wanted: int, serve: Serve, started: float
) -> None:
    """Until the store holds ``wanted`` deliveries more than before the load."""
    deadline = deadline_of(ctx, started)
    while (done := (await asyncio.to_thread(tally.advance))[DELIVERED]) < wanted:
        serve.check()
        if time.perf_counter() > deadline:
            raise Missing(
                f"{done} of {wanted} delivered after {deadline - started:.0f}s:\n{serve.tail()}"
            )
        await asyncio.sleep(0.1)
