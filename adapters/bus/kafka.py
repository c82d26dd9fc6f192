"""The bus port over Apache Kafka (aiokafka).

Producers are idempotent with ``acks=all``, so a retry inside the client never duplicates
or reorders a key's records. Consumers never auto-commit: a record is committed only after
its handler finished, so a crash replays what was not done rather than skipping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    TopicAlreadyExistsError,
)

from chainon.adapters.bus.port import BusUnavailable, Outgoing, Record

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _failure_raised_not_logged() -> Iterator[None]:
    """The client logs a failed bootstrap as an error, then raises it; the raise carries the
    same reason with the address, so the line is held back while the producer starts."""
    client = logging.getLogger("aiokafka")
    previous = client.level
    client.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        client.setLevel(previous)


class KafkaBus:
    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 4,
        replication: int = 1,
        client_id: str = "chainon",
    ) -> None:
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.replication = replication
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            request_timeout_ms=30_000,
        )
        try:
            with _failure_raised_not_logged():
                await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise BusUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(
                    name=t, num_partitions=self.partitions, replication_factor=self.replication
                )
                for t in topics
                if t not in existing
            ]
            if missing:
                # Another worker may have created them first.
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
        except KafkaError as exc:
            raise BusUnavailable(f"Kafka at {self.bootstrap}: {exc}") from exc
        finally:
            await admin.close()

    async def publish(self, records: Sequence[Outgoing]) -> None:
        if self._producer is None:
            raise BusUnavailable("the Kafka producer is not started")
        try:
            sent = [
                await self._producer.send(
                    r.topic, r.value, key=r.key.encode(), headers=list(r.headers)
                )
                for r in records
            ]
            await asyncio.gather(*sent)
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaConsumer:
        return KafkaConsumer(self.bootstrap, group, tuple(topics), self.client_id)


class KafkaConsumer:
    def __init__(self, bootstrap: str, group: str, topics: tuple[str, ...], client_id: str) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topics = topics
        self.client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        # aiokafka binds its clients to the running loop: create it here, not in __init__.
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise BusUnavailable(str(exc)) from exc
        self._consumer = consumer

    @property
    def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise BusUnavailable("the Kafka consumer is not started")
        return self._consumer

    async def poll(self, max_records: int, timeout: float) -> list[Record]:
        try:
            batches = await self._started.getmany(
                timeout_ms=int(timeout * 1000), max_records=max_records
            )
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc
        return [
            Record(
                topic=m.topic,
                partition=m.partition,
                offset=m.offset,
                key=m.key.decode() if m.key is not None else None,
                value=m.value or b"",
                headers=tuple((k, v) for k, v in m.headers),
                timestamp_ms=m.timestamp,
            )
            for messages in batches.values()
            for m in messages
        ]

    async def commit(self, records: Sequence[Record]) -> None:
        consumer = self._started
        assigned = consumer.assignment()
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            if tp in assigned:
                offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced under us: the partition's new owner gets these records
            # again, and handlers are idempotent. Retrying the commit could never succeed.
            log.info("commit skipped after a rebalance: %s", exc)
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc

    async def lag(self) -> dict[tuple[str, int], int]:
        lags = {}
        consumer = self._started
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            committed = await consumer.committed(tp)
            if highwater is not None:
                lags[(tp.topic, tp.partition)] = highwater - (committed or 0)
        return lags

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
