"""Scenario 1 in the distributed mode: the inbound burst over Kafka and PostgreSQL, with one
or two core workers beside a relay and a views worker, each its own process.

The workers start and are warmed up (``Deployment.warm_up``: every core worker handling
records, the views following) before the clock starts. The clock then runs from the first
record of the burst published on the inbound topic (by this process, with Chainon's Kafka
bus adapter, as channel adapters publish: keyed by conversation, acknowledged by the
broker) until

- stored: the store holds a ``MessageReceived`` for every message (counted in the store);
- relayed: the relay's tracked position reached the store's head;
- projected: the views worker committed every record of the events topic (it commits only
  after its read models applied them).

Publishing the burst is much faster than taking it in, so the workers soon have a backlog,
as after an outage. Afterwards every message is looked for in the store; a missing,
refused or dead-lettered one fails the scenario.
"""

from __future__ import annotations

import asyncio
import time

from bench.accounting import RECEIVED, REFUSED, Tally, received
from bench.deployment import Deployment
from bench.registry import Context
from bench.result import Missing, Result, own_peak_rss
from bench.traffic import BRAND_NUMBER, receive_commands

LOAD_BATCH = 1000


async def distributed_burst(ctx: Context) -> Result:
    from chainon.adapters.bus.port import Outgoing
    from chainon.domain.channels import Channel
    from chainon.observability import configure_logging
    from chainon.topic_records import conversation_key, dump

    counts = ctx.counts
    settings = ctx.settings()
    configure_logging("WARNING", json=settings.log_json)
    roles = {"core": ctx.core_workers, "relay": 1, "views": 1}
    deployment = Deployment(settings, ctx.data_dir / "workers", roles)
    core = deployment.core
    core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, BRAND_NUMBER)])
    messages = receive_commands(counts.messages, counts.conversations)
    records = [
        Outgoing(deployment.topics.inbound, conversation_key(m.sender, m.recipient), dump(m))
        for m in messages
    ]
    async with deployment:
        warm = await deployment.warm_up(BRAND_NUMBER)
        head_before = await deployment.head()
        tally = Tally(core, (RECEIVED, REFUSED), after=head_before)
        cpu = ctx.stages(threads=False).start()
        started = time.monotonic()
        deadline = started + 120 + len(messages) / 20
        for start in range(0, len(records), LOAD_BATCH):
            await deployment.bus.publish(records[start : start + LOAD_BATCH])
        loaded = time.monotonic() - started

        async def stored() -> bool:
            seen = await asyncio.to_thread(tally.advance)
            return seen[RECEIVED] + seen[REFUSED] >= len(messages)

        await deployment.wait("stored", stored, deadline)
        marks = {"stored_seconds": time.monotonic() - started}
        head = await deployment.head()
        await deployment.caught_up(deadline)
        seconds = time.monotonic() - started
        cpu.stop()
        marks["projected_seconds"] = seconds
        dead_letters = await deployment.dead_letters()
        handled = await deployment.handled()
        ids = [m.provider_message_id for m in messages]
        found = await asyncio.to_thread(received, core, ids)
        rss = deployment.fleet.rss
    if found["received"] != len(messages) or found["refused"] or dead_letters:
        raise Missing(
            f"of {len(messages)} messages, {found['received']} stored, "
            f"{found['refused']} refused, {dead_letters} dead-lettered"
        )
    events = head - head_before
    return Result(
        name="inbound-burst",
        mode=ctx.mode,
        count=len(messages),
        seconds=seconds,
        unit="messages",
        limit="postgres.insert",
        baselines=("eventsourcing.postgres.save-each", "eventsourcing.postgres.save-100"),
        rss={**rss, "bench (publisher, observer)": own_peak_rss()},
        cpu=cpu.seconds,
        extra={
            "core_workers": ctx.core_workers,
            "conversations": found["conversations"],
            "messages_found": found["received"],
            "events": events,
            "events_per_second": round(events / seconds, 1),
            **{k: round(v, 3) for k, v in marks.items()},
            "publish_seconds": round(loaded, 3),
            "partitions": settings.kafka_partitions,
            **{
                f"handled_by_{name.removeprefix('chainon worker ').replace(' ', '_')}": int(n)
                for name, n in handled.items()
            },
            **warm,
        },
        settings=settings.model_dump(mode="json"),
    )
