"""The whole send path over SMPP, embedded: HTTP ``POST /v1/messages`` → the store → the
relay → dispatch → ``submit_sm`` to the SMSC simulator → its receipt → recorded delivered.

Two variants. ``…@embedded``: the API and every worker run in one process, on uvicorn in
this one (``CHAINON_EMBEDDED_PROCESSES=1``). ``…@embedded-tree`` (``send_smpp_tree``):
``chainon serve``'s default, the core and the API in its process, dispatch, relay, views
and webhooks in the child it supervises, on the same settings and SMPP link. Either way a
separate process (``bench.http_load``) sends the requests, so its CPU is not counted
against Chainon's. The clock runs from the first request to the last receipt recorded.
Afterwards every accepted message must be delivered in the store.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bench.accounting import delivered as delivered_in_store
from bench.registry import PROCESS_TREE, Context, Kind, Service, measurement
from bench.result import Latency, Missing, Result, own_peak_rss

if TYPE_CHECKING:
    from chainon.core import Core
    from chainon.settings import Settings, SmppLinkSettings

SENDER = "+33939000001"
CONCURRENCY = 32
WINDOW = 50
BATCH = 100  # sends per POST /v1/messages/batch
BATCH_CONCURRENCY = 4
LINK = "bench"


@measurement("send-smpp", Kind.SCENARIO, modes=("embedded", PROCESS_TREE), needs={Service.SMSC})
async def send_smpp(ctx: Context) -> Result:
    """Send path: API → store → dispatch → SMPP submit → receipt recorded."""
    return await _send_path(ctx, "send-smpp", 1, CONCURRENCY)


@measurement(
    "send-smpp-batch", Kind.SCENARIO, modes=("embedded", PROCESS_TREE), needs={Service.SMSC}
)
async def send_smpp_batch(ctx: Context) -> Result:
    """The same through POST /v1/messages/batch, 100 sends a request."""
    return await _send_path(ctx, "send-smpp-batch", BATCH, BATCH_CONCURRENCY)


async def _send_path(ctx: Context, name: str, batch: int, concurrency: int) -> Result:
    if ctx.mode == PROCESS_TREE:
        from bench.scenarios.send_smpp_tree import tree_send

        return await tree_send(ctx, name, batch, concurrency)
    return await _one_process(ctx, name, batch, concurrency)


def link(ctx: Context) -> SmppLinkSettings:
    """The SMPP link to the run's SMSC simulator."""
    from chainon.settings import SmppLinkSettings

    if ctx.smsc is None:
        raise RuntimeError("this measurement needs the SMSC simulator, and none was started")
    return SmppLinkSettings(
        name=LINK,
        host=ctx.smsc.host,
        port=ctx.smsc.port,
        system_id=ctx.smsc.system_id,
        password=ctx.smsc.password,
        window=WINDOW,
    )


def brand_key(core: Core) -> str:
    """Registers the brand, routes its sender to the link, and issues its API key."""
    from chainon.domain.channels import Channel

    brand = core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, SENDER)])
    core.route_sender(brand.id, Channel.SMS, SENDER, f"smpp:{LINK}")
    return core.api_keys.issue(brand.id, "bench")


async def http_load(
    ctx: Context, port: int, key: str, batch: int, concurrency: int
) -> dict[str, Any]:
    """Runs ``bench.http_load`` against ``port`` and returns what it wrote."""
    answers = ctx.data_dir / "http_load.json"
    load = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.http_load",
        f"http://127.0.0.1:{port}",
        key,
        str(ctx.counts.sends),
        str(concurrency),
        str(answers),
        str(batch),
    )
    if await load.wait() != 0:
        raise RuntimeError(f"the load generator failed (exit status {load.returncode})")
    answered: dict[str, Any] = json.loads(answers.read_text())
    return answered


def deadline_of(ctx: Context, started: float) -> float:
    """When the scenario gives up waiting for the receipts (perf_counter)."""
    return started + 120 + ctx.counts.sends / 20


async def _one_process(ctx: Context, name: str, batch: int, concurrency: int) -> Result:
    import uvicorn

    from chainon.api.app import create_app
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime

    settings = ctx.settings(smpp_links=[link(ctx)])
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = Runtime(settings)
    core = runtime.core
    key = brand_key(core)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, runtime=runtime),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    await runtime.start()
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        for provider in runtime.providers.values():
            if provider.name == f"smpp:{LINK}":
                await provider.ready()  # type: ignore[attr-defined]
        delivered_before = _delivered()
        cpu = ctx.stages().start()
        started = time.perf_counter()
        requests = await http_load(ctx, port, key, batch, concurrency)
        accepted_seconds = time.perf_counter() - started
        wanted = len(requests["accepted"])
        deadline = deadline_of(ctx, started)
        while _delivered() - delivered_before < wanted:
            if time.perf_counter() > deadline:
                raise Missing(
                    f"{_delivered() - delivered_before:.0f} of {wanted} delivered "
                    f"after {deadline - started:.0f}s"
                )
            await asyncio.sleep(0.1)  # reading the registry is not free: 5% at 50 Hz
        seconds = time.perf_counter() - started
        cpu.stop()
    finally:
        server.should_exit = True
        await serving
        await runtime.stop()
    try:
        delivered = await count_delivered(core, requests)
    finally:
        runtime.close()
    return send_result(
        ctx,
        name,
        batch,
        concurrency,
        requests=requests,
        delivered=delivered,
        seconds=seconds,
        accepted_seconds=accepted_seconds,
        rss={"chainon (embedded, one process)": own_peak_rss()},
        cpu=cpu.seconds,
        settings=settings,
    )


async def count_delivered(core: Core, requests: dict[str, Any]) -> int:
    """How many of the accepted messages the store holds as delivered."""
    ids = {UUID(m) for m in requests["accepted"]}
    return len(await asyncio.to_thread(delivered_in_store, core, ids))


def send_result(
    ctx: Context,
    name: str,
    batch: int,
    concurrency: int,
    *,
    requests: dict[str, Any],
    delivered: int,
    seconds: float,
    accepted_seconds: float,
    rss: dict[str, int],
    cpu: dict[str, float],
    settings: Settings,
    extra: dict[str, int] | None = None,
) -> Result:
    """The send path's figures, one process or the tree: every send accepted and
    delivered in the store, or the scenario fails."""
    count = ctx.counts.sends
    accepted = len(requests["accepted"])
    if requests["refused"] or delivered != count:
        raise Missing(
            f"of {count} sends, {accepted} accepted ({requests['refused']} refused), "
            f"{delivered} delivered in the store"
        )
    return Result(
        name=name,
        mode=ctx.mode,
        count=count,
        seconds=seconds,
        unit="messages",
        latency=Latency.of(requests["latencies"]),
        latency_of="HTTP send request (accepted, 202)"
        if batch == 1
        else f"HTTP batch request of {batch} sends (200)",
        limit="smpp.submit",
        baselines=("eventsourcing.sqlite.save-each", "eventsourcing.sqlite.save-100"),
        rss=rss,
        cpu=cpu,
        extra={
            "delivered": delivered,
            "accepted_per_second": round(count / accepted_seconds, 1),
            "concurrency": concurrency,
            "sends_per_request": batch,
            "smpp_window": WINDOW,
            **(extra or {}),
        },
        settings=settings.model_dump(mode="json"),
    )


def _delivered() -> float:
    from chainon.observability import REGISTRY  # Chainon's own registry, not the default

    value = REGISTRY.get_sample_value(
        "chainon_messages_total", {"channel": "sms", "direction": "outbound", "status": "delivered"}
    )
    return value or 0.0
