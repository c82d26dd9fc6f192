"""Raw Kafka: aiokafka produce and consume of event-sized records on the run's broker.

The producer is configured as ``adapters/bus/kafka.py`` configures Chainon's (idempotent,
``acks=all``, ``linger_ms=2``); the consumer as its consumers (a group, no auto-commit,
``read_committed``, a commit after every batch). Topics have Chainon's default of 4
partitions; keys are spread over the run's conversations.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from bench.registry import ROW_BYTES, Context, Kind, Service, measurement
from bench.result import Latency, Missing, Result, own_peak_rss

PARTITIONS = 4
BATCH = 1000


async def _topic(bootstrap: str) -> str:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    name = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="chainon-bench")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()
    return name


async def _produce(bootstrap: str, topic: str, count: int, keys: int) -> tuple[float, list[float]]:
    """Sends ``count`` records as fast as the producer takes them; returns the seconds until
    the last was acknowledged and each record's send-to-acknowledgement time."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="chainon-bench",
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=30_000,
    )
    await producer.start()
    value = os.urandom(ROW_BYTES // 2).hex().encode()[:ROW_BYTES]
    key_of = [str(uuid.uuid4()).encode() for _ in range(max(keys, 1))]
    latencies: list[float] = []
    try:
        started = time.perf_counter()
        pending: list[asyncio.Future[object]] = []
        for i in range(count):
            sent_at = time.perf_counter()
            future = await producer.send(topic, value, key=key_of[i % len(key_of)])
            future.add_done_callback(
                lambda _, at=sent_at: latencies.append(time.perf_counter() - at)
            )
            pending.append(future)
        await asyncio.gather(*pending)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return seconds, latencies


@measurement("kafka.produce", Kind.LIMIT, needs={Service.KAFKA})
async def kafka_produce(ctx: Context) -> Result:
    """aiokafka produce (idempotent, acks=all) of event-sized records."""
    bootstrap = ctx.require_kafka()
    count = ctx.counts.records
    topic = await _topic(bootstrap)
    seconds, latencies = await _produce(bootstrap, topic, count, ctx.counts.conversations)
    if len(latencies) != count:
        raise Missing(f"{len(latencies)} records acknowledged of {count}")
    return Result(
        name="kafka.produce",
        mode="raw",
        count=count,
        seconds=seconds,
        unit="records",
        latency=Latency.of(latencies),
        latency_of="record, send to acknowledgement, all sent at once",
        rss={"bench": own_peak_rss()},
        extra={"record_bytes": ROW_BYTES, "partitions": PARTITIONS, "acks": "all"},
    )


@measurement("kafka.consume", Kind.LIMIT, needs={Service.KAFKA})
async def kafka_consume(ctx: Context) -> Result:
    """aiokafka consume in a group, committing after every batch of up to 1,000."""
    from aiokafka import AIOKafkaConsumer

    bootstrap = ctx.require_kafka()
    count = ctx.counts.records
    topic = await _topic(bootstrap)
    await _produce(bootstrap, topic, count, ctx.counts.conversations)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        client_id="chainon-bench",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    joining = time.perf_counter()
    await consumer.start()
    read, polls = 0, 0
    try:
        started = time.perf_counter()
        deadline = started + 60 + count / 1000
        while read < count:
            if time.perf_counter() > deadline:
                raise Missing(f"{read} records consumed of {count} in {deadline - started:.0f}s")
            batches = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            polls += 1
            got = sum(len(messages) for messages in batches.values())
            if got:
                await consumer.commit()
                read += got
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    if read != count:
        raise Missing(f"{read} records consumed of {count}")
    return Result(
        name="kafka.consume",
        mode="raw",
        count=count,
        seconds=seconds,
        unit="records",
        rss={"bench": own_peak_rss()},
        extra={
            "record_bytes": ROW_BYTES,
            "partitions": PARTITIONS,
            "group_join_seconds": round(started - joining, 3),
            "polls": polls,
        },
    )
