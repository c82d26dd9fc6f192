"""The bus contract: the embedded log and Kafka pass the same tests.

Every test uses topics of its own, and counts every record it published.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chainon.adapters.bus.embedded import EmbeddedBus
from chainon.adapters.bus.kafka import KafkaBus
from chainon.adapters.bus.port import Bus, Consumer, Outgoing, Record
from chainon.consuming import ConsumingWorker
from chainon.observability import REGISTRY
from chainon.topic_records import INBOUND, DeadLetter, read
from chainon.topics import Topics


async def drain(consumer: Consumer, expected: int, within: float = 30.0) -> list[Record]:
    """Polls until ``expected`` records arrived (or fails, saying how many did)."""
    got: list[Record] = []
    deadline = asyncio.get_running_loop().time() + within
    while len(got) < expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"only {len(got)} of {expected} records arrived")
        got += await consumer.poll(500, timeout=0.5)
    return got


def lags(worker: str, topic: str) -> dict[str, float]:
    """The consumer-lag gauge of one worker on one topic, per partition."""
    return {
        sample.labels["partition"]: sample.value
        for metric in REGISTRY.collect()
        if metric.name == "chainon_bus_consumer_lag"
        for sample in metric.samples
        if sample.labels["worker"] == worker and sample.labels["topic"] == topic
    }


def by_key(records: list[Record]) -> dict[str, list[int]]:
    ordered: dict[str, list[int]] = {}
    for r in records:
        ordered.setdefault(r.key or "", []).append(json.loads(r.value)["n"])
    return ordered


class BusContract:
    @pytest.fixture
    def bus(self) -> Bus:
        raise NotImplementedError("each backend's subclass provides a started bus")

    @pytest.fixture
    def topic(self) -> str:
        return f"test.{uuid.uuid4().hex[:10]}"

    async def test_records_of_a_key_arrive_in_order_and_none_is_lost(
        self, bus: Bus, topic: str
    ) -> None:
        await bus.ensure_topics([topic])
        keys = [f"conversation-{i}" for i in range(10)]
        await bus.publish(
            [Outgoing(topic, key, json.dumps({"n": n}).encode()) for n in range(20) for key in keys]
        )
        consumer = bus.consumer(f"g-{topic}", [topic])
        await consumer.start()
        try:
            records = await drain(consumer, 200)
        finally:
            await consumer.stop()
        assert len(records) == 200
        assert by_key(records) == {key: list(range(20)) for key in keys}

    async def test_a_restarted_group_resumes_after_its_commit_and_replays_the_rest(
        self, bus: Bus, topic: str
    ) -> None:
        await bus.ensure_topics([topic])
        await bus.publish([Outgoing(topic, "k", json.dumps({"n": n}).encode()) for n in range(10)])
        group = f"g-{topic}"
        first = bus.consumer(group, [topic])
        await first.start()
        seen = await drain(first, 10)
        await first.commit(seen[:4])  # processed 0..3; crashed before committing the rest
        await first.stop()

        second = bus.consumer(group, [topic])
        await second.start()
        try:
            again = await drain(second, 6)
        finally:
            await second.stop()
        assert [json.loads(r.value)["n"] for r in again] == [4, 5, 6, 7, 8, 9]

    async def test_every_group_gets_every_record(self, bus: Bus, topic: str) -> None:
        await bus.ensure_topics([topic])
        await bus.publish(
            [Outgoing(topic, f"k{n}", json.dumps({"n": n}).encode()) for n in range(7)]
        )
        for group in ("projections", "a-brand-consumer"):
            consumer = bus.consumer(f"{group}-{topic}", [topic])
            await consumer.start()
            try:
                records = await drain(consumer, 7)
            finally:
                await consumer.stop()
            assert sorted(json.loads(r.value)["n"] for r in records) == list(range(7))

    async def test_lag_counts_what_is_not_committed(self, bus: Bus, topic: str) -> None:
        await bus.ensure_topics([topic])
        await bus.publish([Outgoing(topic, "k", json.dumps({"n": n}).encode()) for n in range(5)])
        consumer = bus.consumer(f"g-{topic}", [topic])
        await consumer.start()
        try:
            records = await drain(consumer, 5)
            await consumer.commit(records[:2])
            assert sum((await consumer.lag()).values()) == 3
            await consumer.commit(records)
            assert sum((await consumer.lag()).values()) == 0
        finally:
            await consumer.stop()

    async def test_a_worker_that_caught_up_reports_no_lag(self, bus: Bus, topic: str) -> None:
        """Nine records, five per poll: the first report (lag 4) came before the last batch;
        idle polls must bring the gauge to 0, not leave it at 4."""
        await bus.ensure_topics([topic])
        await bus.publish([Outgoing(topic, "k", json.dumps({"n": n}).encode()) for n in range(9)])

        async def handler(record: Record) -> None:
            pass

        name = f"lag-{topic}"
        consumer = bus.consumer(f"g-{topic}", [topic])
        worker = ConsumingWorker(name, bus, consumer, handler, batch_size=5)
        stopping = asyncio.Event()
        task = asyncio.create_task(worker.run(stopping))
        try:
            for _ in range(600):
                found = lags(name, topic)
                if worker.handled == 9 and found and sum(found.values()) == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            stopping.set()
            await task
        assert worker.handled == 9
        assert lags(name, topic), "no lag was ever reported"
        assert sum(lags(name, topic).values()) == 0, lags(name, topic)

    async def test_poison_records_go_to_the_dead_letter_topic_and_the_rest_is_processed(
        self, bus: Bus, topic: str
    ) -> None:
        dlq = Topics.dlq(topic)
        await bus.ensure_topics([topic, dlq])
        valid = json.dumps(
            {
                "type": "RecordReceipt",
                "provider": "p",
                "provider_message_id": "x",
                "status": "delivered",
            }
        ).encode()
        poisons = {
            b"{not json": "malformed JSON",
            json.dumps({"type": "Teleport"}).encode(): "does not match any of the expected tags",
            valid.replace(
                b'"type"', b'"schema_version": 2, "type"'
            ): "schema_version: Input should be 1",
        }
        await bus.publish(
            [
                Outgoing(topic, "k", valid),
                *(Outgoing(topic, "k", p) for p in poisons),
                Outgoing(topic, "k", valid),
            ]
        )
        handled: list[int] = []

        async def handler(record: Record) -> None:
            read(INBOUND, record.value)
            handled.append(record.offset)

        consumer = bus.consumer(f"g-{topic}", [topic])
        worker = ConsumingWorker("test", bus, consumer, handler)
        stopping = asyncio.Event()
        task = asyncio.create_task(worker.run(stopping))
        letters_consumer = bus.consumer(f"dlq-{topic}", [dlq])
        await letters_consumer.start()
        try:
            letters = await drain(letters_consumer, 3)
        finally:
            await letters_consumer.stop()
        for _ in range(100):
            if len(handled) == 2:
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await task
        assert len(handled) == 2
        assert worker.dead_lettered == 3
        parsed = [DeadLetter.model_validate_json(r.value) for r in letters]
        assert [letter.value.encode() for letter in parsed] == list(poisons)
        for letter, expected in zip(parsed, poisons.values(), strict=True):
            assert letter.reason == "invalid record"
            assert expected in letter.error
            assert letter.topic == topic
        # Everything was committed: a new consumer of the group finds nothing left.
        again = bus.consumer(f"g-{topic}", [topic])
        await again.start()
        try:
            assert await again.poll(10, timeout=1.0) == []
        finally:
            await again.stop()


class TestEmbeddedBus(BusContract):
    @pytest.fixture
    async def bus(self, tmp_path: Path) -> AsyncIterator[Bus]:
        bus = EmbeddedBus(tmp_path / "bus.sqlite3")
        await bus.start()
        yield bus
        await bus.stop()


class TestKafkaBus(BusContract):
    @pytest.fixture
    async def bus(self, kafka_bootstrap: str) -> AsyncIterator[Bus]:
        bus = KafkaBus(kafka_bootstrap, partitions=4)
        await bus.start()
        yield bus
        await bus.stop()
