"""The loop every consuming worker runs: poll, handle in order, dead-letter, commit.

A record is committed only after it was handled or dead-lettered, so a crash replays it
instead of losing it; handlers are idempotent, so the replay changes nothing. What cannot
become valid (malformed JSON, an unknown type, a refusal by the domain) goes to the
record's dead-letter topic with the reason, and the records after it are processed.
Infrastructure failures (store or bus down) are retried without end: nothing is skipped;
but every wait between two tries ends at the stop signal, and the record is then left
uncommitted for the next start (a stuck retry must never keep a process from stopping).
Within a batch, records of different keys are handled concurrently and records of one key
in order, which is all the order the bus promises; concurrency is what lets a provider's
window fill and the core's batcher commit many records in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError

from chainon.adapters.bus.port import Bus, BusUnavailable, Consumer, Outgoing, Record
from chainon.adapters.channels.port import TemporaryFailure
from chainon.domain.errors import DomainError
from chainon.observability import BUS_DLQ, BUS_LAG, BUS_RECORDS
from chainon.topic_records import DeadLetter, PoisonRecord, dump
from chainon.topics import Topics

log = structlog.get_logger(__name__)

Handler = Callable[[Record], Awaitable[None]]
# Retried without end: the record is fine, the world around it is not (yet).
INFRASTRUCTURE = (
    BusUnavailable,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TemporaryFailure,
)


LAG_REPORT_EVERY = 1.0  # seconds


class Stopped(Exception):
    """The stop signal came while a record waited for its next try: it stays uncommitted."""


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    """Sleeps ``seconds``, or raises ``Stopped`` as soon as the stop signal comes."""
    if stopping.is_set():
        raise Stopped()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
    if stopping.is_set():
        raise Stopped()


async def dead_letter(
    bus: Bus,
    stopping: asyncio.Event,
    record: Record,
    reason: str,
    error: str,
    attempts: int,
    *,
    worker: str,
) -> None:
    """Puts the record on its topic's dead-letter topic, with the reason."""
    letter = DeadLetter(
        reason=reason,
        error=error,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value.decode("utf-8", errors="replace"),
        attempts=attempts,
        failed_at=datetime.now(UTC),
    )
    outgoing = Outgoing(
        Topics.dlq(record.topic), record.key or "", dump(letter), (("reason", reason.encode()),)
    )
    while True:
        try:
            await bus.publish([outgoing])
            break
        except BusUnavailable:
            await pause(stopping, 1.0)
    BUS_DLQ.labels(record.topic).inc()
    log.warning(
        "record.dead_lettered",
        worker=worker,
        topic=record.topic,
        offset=record.offset,
        reason=reason,
        error=error,
    )


class ConsumingWorker:
    def __init__(
        self,
        name: str,
        bus: Bus,
        consumer: Consumer,
        handler: Handler,
        *,
        max_attempts: int = 5,
        batch_size: int = 200,
        backoff: float = 0.2,
    ) -> None:
        self.name = name
        self.bus = bus
        self.consumer = consumer
        self.handler = handler
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.backoff = backoff
        self.handled = 0
        self.dead_lettered = 0
        self.lag = LagReport(name, consumer)
        self._stopping = asyncio.Event()  # the run's, once it runs

    async def run(self, stopping: asyncio.Event) -> None:
        await self.consumer.start()
        self._stopping = stopping
        try:
            while not stopping.is_set():
                try:
                    records = await self.consumer.poll(self.batch_size, timeout=0.5)
                except BusUnavailable as exc:
                    log.warning("bus.unavailable", worker=self.name, error=str(exc))
                    await asyncio.sleep(1.0)
                    continue
                try:
                    await self._process_by_key(records)
                    if records:
                        await self._commit(records)
                    await self.lag.report()  # idle too: the last batch's lag must not stay
                except Stopped:  # the batch is handed out again at the next start
                    log.info("worker.stopped_mid_batch", worker=self.name, records=len(records))
                    break
        finally:
            await self.consumer.stop()

    async def _process_by_key(self, records: list[Record]) -> None:
        lanes: dict[tuple[str, int, str | None], list[Record]] = {}
        for record in records:
            lanes.setdefault((record.topic, record.partition, record.key), []).append(record)

        async def in_order(lane: list[Record]) -> None:
            for record in lane:
                await self._process(record)

        # Every lane ends (a Stopped one too) before the batch is given up, so none is left
        # running beside the next start.
        results = await asyncio.gather(
            *(in_order(lane) for lane in lanes.values()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _process(self, record: Record) -> None:
        attempts = 0
        while True:
            attempts += 1
            try:
                await self.handler(record)
            except PoisonRecord as exc:
                await self._dead_letter(record, "invalid record", str(exc), attempts)
            except DomainError as exc:
                detail = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
                await self._dead_letter(record, f"refused: {type(exc).__name__}", detail, attempts)
            except INFRASTRUCTURE as exc:
                log.warning("worker.retry", worker=self.name, error=str(exc), offset=record.offset)
                await pause(self._stopping, min(self.backoff * 2**attempts, 5.0))
                continue
            except Exception as exc:
                if attempts < self.max_attempts:
                    await pause(self._stopping, self.backoff * attempts)
                    continue
                await self._dead_letter(
                    record, "kept failing", f"{type(exc).__name__}: {exc}", attempts
                )
            else:
                self.handled += 1
                BUS_RECORDS.labels(self.name, record.topic).inc()
            return

    async def _dead_letter(self, record: Record, reason: str, error: str, attempts: int) -> None:
        await dead_letter(
            self.bus, self._stopping, record, reason, error, attempts, worker=self.name
        )
        self.dead_lettered += 1

    async def _commit(self, records: list[Record]) -> None:
        while True:
            try:
                await self.consumer.commit(records)
                return
            except BusUnavailable as exc:
                log.warning("bus.commit_failed", worker=self.name, error=str(exc))
                await pause(self._stopping, 1.0)


class LagReport:
    """A consumer's lag per partition on the ``chainon_bus_consumer_lag`` gauge.

    Called after every poll, busy or idle, and at most once a second: asking the broker
    costs a round trip per partition, more than a busy worker's batch takes to handle.
    Reported only after batches, a worker that caught up kept the lag of its last report.
    """

    def __init__(self, worker: str, consumer: Consumer, *, every: float = LAG_REPORT_EVERY) -> None:
        self.worker = worker
        self.consumer = consumer
        self.every = every
        self._reported = float("-inf")

    async def report(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._reported < self.every:
            return
        self._reported = now
        try:
            for (topic, partition), lag in (await self.consumer.lag()).items():
                BUS_LAG.labels(self.worker, topic, str(partition)).set(lag)
        except BusUnavailable:
            pass
