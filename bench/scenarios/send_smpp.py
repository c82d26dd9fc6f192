"""The whole send path over SMPP, embedded: HTTP ``POST /v1/messages`` → the store → the
relay → dispatch → ``submit_sm`` to the SMSC simulator → its receipt → recorded delivered.

The API and every worker run in one process (``chainon serve``'s embedded default), on
uvicorn; a separate process (``bench.http_load``) sends the requests, so its CPU is not
counted against Chainon's. The clock runs from the first request to the last receipt
recorded. Afterwards every accepted message must be delivered in the store.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from uuid import UUID

from bench.accounting import delivered as delivered_in_store
from bench.registry import Context, Kind, Service, measurement
from bench.result import Latency, Missing, Result, own_peak_rss

SENDER = "+33939000001"
CONCURRENCY = 32
WINDOW = 50
BATCH = 100  # sends per POST /v1/messages/batch
BATCH_CONCURRENCY = 4


@measurement("send-smpp", Kind.SCENARIO, modes=("embedded",), needs={Service.SMSC})
async def send_smpp(ctx: Context) -> Result:
    """Send path: API → store → dispatch → SMPP submit → receipt recorded."""
    return await _send_path(ctx, "send-smpp", 1, CONCURRENCY)


@measurement("send-smpp-batch", Kind.SCENARIO, modes=("embedded",), needs={Service.SMSC})
async def send_smpp_batch(ctx: Context) -> Result:
    """The same through POST /v1/messages/batch, 100 sends a request."""
    return await _send_path(ctx, "send-smpp-batch", BATCH, BATCH_CONCURRENCY)


async def _send_path(ctx: Context, name: str, batch: int, concurrency: int) -> Result:
    import uvicorn

    from chainon.api.app import create_app
    from chainon.domain.channels import Channel
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime
    from chainon.settings import SmppLinkSettings

    if ctx.smsc is None:
        raise RuntimeError("this measurement needs the SMSC simulator, and none was started")
    count = ctx.counts.sends  # sends, like the outbound scenario: each is three commands
    link = SmppLinkSettings(
        name="bench",
        host=ctx.smsc.host,
        port=ctx.smsc.port,
        system_id=ctx.smsc.system_id,
        password=ctx.smsc.password,
        window=WINDOW,
    )
    settings = ctx.settings(smpp_links=[link])
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = Runtime(settings)
    core = runtime.core
    brand = core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, SENDER)])
    core.route_sender(brand.id, Channel.SMS, SENDER, "smpp:bench")
    key = core.api_keys.issue(brand.id, "bench")
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
            if provider.name == "smpp:bench":
                await provider.ready()  # type: ignore[attr-defined]
        delivered_before = _delivered()
        cpu = ctx.stages().start()
        started = time.perf_counter()
        answers = ctx.data_dir / "http_load.json"
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.http_load",
            f"http://127.0.0.1:{port}",
            key,
            str(count),
            str(concurrency),
            str(answers),
            str(batch),
        )
        if await load.wait() != 0:
            raise RuntimeError(f"the load generator failed (exit status {load.returncode})")
        requests = json.loads(answers.read_text())
        accepted_seconds = time.perf_counter() - started
        wanted = len(requests["accepted"])
        deadline = started + 120 + count / 20
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
        ids = [UUID(m) for m in requests["accepted"]]
        delivered = len(await asyncio.to_thread(delivered_in_store, core, set(ids)))
    finally:
        runtime.close()
    if requests["refused"] or delivered != count:
        raise Missing(
            f"of {count} sends, {len(ids)} accepted ({requests['refused']} refused), "
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
        rss={"chainon (embedded, one process)": own_peak_rss()},
        cpu=cpu.seconds,
        extra={
            "delivered": delivered,
            "accepted_per_second": round(count / accepted_seconds, 1),
            "concurrency": concurrency,
            "sends_per_request": batch,
            "smpp_window": WINDOW,
        },
        settings=settings.model_dump(mode="json"),
    )


def _delivered() -> float:
    from chainon.observability import REGISTRY  # Chainon's own registry, not the default

    value = REGISTRY.get_sample_value(
        "chainon_messages_total", {"channel": "sms", "direction": "outbound", "status": "delivered"}
    )
    return value or 0.0
