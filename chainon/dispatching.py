"""The dispatch worker: each provider link sends on its own, so one down link holds up no other.

A record is routed to its provider link as soon as it is polled, and queued in that
link's ``LinkLane``: in order per key (a revocation follows its send), several keys at
once, retried on the link's own schedule. A link that fails for now (the SMTP relay
down, an SMSC unbound) backs off and tries again later, while the worker keeps polling
and the other links keep sending: a relay outage no longer keeps an SMS ``queued``.

Commits follow the records that are done: each partition is committed up to its first
record still in a lane. A record waiting for its link therefore holds its partition's
committed offset back (not its records' sending), and a crash hands the records after it
out again; providers dedupe on our message id, so that re-sends nothing twice. Records
polled but not done are bounded (``max_in_flight``): past it, polling waits for lanes to
finish.

Every wait ends at the stop signal: on stop the lanes are cancelled, what is done is
committed, and what is not stays for the next start.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from chainon.adapters.bus.port import Bus, BusUnavailable, Consumer, Record
from chainon.adapters.channels.port import OutboundMessage, RevokeMessage
from chainon.consuming import INFRASTRUCTURE, LagReport, Stopped, dead_letter, pause
from chainon.domain.errors import DomainError
from chainon.observability import BUS_RECORDS
from chainon.record_handlers import DispatchHandler
from chainon.topic_records import PoisonRecord

log = structlog.get_logger(__name__)

Message = OutboundMessage | RevokeMessage
MAX_ATTEMPTS = 5  # of a record failing for no known reason, before its dead letter


class Progress:
    """Which polled records are done, per partition: a partition commits up to its first
    record not yet done."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, int], dict[int, Record | None]] = {}

    def __len__(self) -> int:
        return sum(len(offsets) for offsets in self._open.values())

    def took(self, record: Record) -> bool:
        """False for a record already in hand (the bus handed it out again)."""
        offsets = self._open.setdefault((record.topic, record.partition), {})
        if record.offset in offsets:
            return False
        offsets[record.offset] = None
        return True

    def done(self, record: Record) -> None:
        offsets = self._open.get((record.topic, record.partition))
        if offsets is not None and record.offset in offsets:
            offsets[record.offset] = record

    def committable(self) -> list[Record]:
        """Per partition, the last record of its done prefix (forgotten from here on)."""
        last: list[Record] = []
        for offsets in self._open.values():
            finished = None
            for offset in sorted(offsets):
                record = offsets[offset]
                if record is None:
                    break
                finished = record
                del offsets[offset]
            if finished is not None:
                last.append(finished)
        return last


class LinkLane:
    """One provider link's queue: each key's records in order, at most ``concurrency``
    sends at once, and one retry schedule for the link (it backs off as a whole, since
    what fails for now is the link, rarely the message)."""

    def __init__(
        self,
        name: str,
        handler: DispatchHandler,
        finished: Callable[[Record], None],
        give_up: Callable[[Record, Message, str, str, int], Awaitable[None]],
        stopping: asyncio.Event,
        *,
        concurrency: int = 64,
        backoff: float = 0.2,
        max_backoff: float = 30.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.name = name
        self.handler = handler
        self.finished = finished
        self.give_up = give_up
        self.stopping = stopping
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._queues: dict[str, deque[tuple[Record, Message]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures = 0  # in a row, for the whole link
        self._retry_at = 0.0  # monotonic; before it, the link is not tried

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def put(self, record: Record, message: Message) -> None:
        key = record.key or ""
        queue = self._queues.get(key)
        if queue is not None:  # its lane is running: it takes this one after the others
            queue.append((record, message))
            return
        self._queues[key] = deque([(record, message)])
        task = asyncio.create_task(self._drain(key), name=f"dispatch:{self.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, grace: float) -> None:
        """Sends under way get ``grace`` seconds to finish (their lanes waiting for a retry
        have already ended at the stop signal); then whatever is left is cancelled."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._queues.clear()

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                record, message = queue[0]
                await self._deliver(record, message)
                queue.popleft()
                self.finished(record)
        except Stopped:
            pass
        except Exception as exc:  # its records stay uncommitted: the next start has them
            log.error("dispatch.lane_failed", link=self.name, key=key, error=repr(exc))
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]

    async def _deliver(self, record: Record, message: Message) -> None:
        attempts = 0
        while True:
            attempts += 1
            await self._turn()
            try:
                async with self._slots:
                    await self.handler.deliver(self.handler.provider(self.name), message)
            except DomainError as exc:
                detail = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
                await self.give_up(record, message, f"refused: {type(exc).__name__}", detail, 1)
                return
            except INFRASTRUCTURE as exc:
                self._failed(exc, message)
                continue
            except Exception as exc:
                if attempts < self.max_attempts:
                    await pause(self.stopping, self.backoff * attempts)
                    continue
                error = f"{type(exc).__name__}: {exc}"
                await self.give_up(record, message, "kept failing", error, attempts)
                return
            self._failures = 0
            self._retry_at = 0.0
            BUS_RECORDS.labels("dispatch", record.topic).inc()
            return

    async def _turn(self) -> None:
        """Waits until the link may be tried again (at once while it is healthy)."""
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            await pause(self.stopping, wait)

    def _failed(self, exc: BaseException, message: Message) -> None:
        self._failures += 1
        delay = min(self.backoff * 2 ** (self._failures - 1), self.max_backoff)
        self._retry_at = max(self._retry_at, time.monotonic() + delay)
        log.warning(
            "dispatch.retry_later",
            link=self.name,
            message_id=str(message.message_id),
            error=str(exc),
            failures=self._failures,
            retry_in=round(delay, 2),
        )


class DispatchWorker:
    def __init__(
        self,
        bus: Bus,
        consumer: Consumer,
        handler: DispatchHandler,
        *,
        name: str = "dispatch",
        batch_size: int = 200,
        max_in_flight: int = 10_000,
        concurrency: int = 64,
        backoff: float = 0.2,
        max_backoff: float = 30.0,
        grace: float = 2.0,
    ) -> None:
        self.name = name
        self.grace = grace
        self.bus = bus
        self.consumer = consumer
        self.handler = handler
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.lane_options = {
            "concurrency": concurrency,
            "backoff": backoff,
            "max_backoff": max_backoff,
        }
        self.lanes: dict[str, LinkLane] = {}
        self.dead_lettered = 0
        self._progress = Progress()
        self._moved = asyncio.Event()  # a record finished: room in flight, maybe a commit
        self._stopping = asyncio.Event()
        self.lag = LagReport(name, consumer)

    async def run(self, stopping: asyncio.Event) -> None:
        self._stopping = stopping
        await self.consumer.start()
        try:
            while not stopping.is_set():
                if len(self._progress) >= self.max_in_flight:
                    await self._wait_for_room()
                    continue
                try:
                    records = await self.consumer.poll(self.batch_size, timeout=0.2)
                except BusUnavailable as exc:
                    log.warning("bus.unavailable", worker=self.name, error=str(exc))
                    await pause(stopping, 1.0)
                    continue
                for record in records:
                    if self._progress.took(record):
                        await self._admit(record)
                await self._commit()
                await self.lag.report()  # idle too: the last batch's lag must not stay
        except Stopped:
            pass
        finally:
            await asyncio.gather(*(lane.stop(self.grace) for lane in self.lanes.values()))
            try:
                await self._commit(once=True)
            finally:
                await self.consumer.stop()

    async def _admit(self, record: Record) -> None:
        """Routes the record to its link's lane, or to the dead letters (and its message
        recorded as failed) when it cannot go anywhere."""
        try:
            message = self.handler.message_of(record)
        except PoisonRecord as exc:
            await self._dead_letter(record, None, "invalid record", str(exc), 1)
            return
        attempts = 0
        while True:
            attempts += 1
            try:
                name = await self.handler.route(message)
                self.handler.provider(name)
                break
            except DomainError as exc:  # an unknown brand; a link this worker does not run
                detail = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
                reason = f"refused: {type(exc).__name__}"
                await self._dead_letter(record, message, reason, detail, attempts)
                return
            except INFRASTRUCTURE as exc:  # the brand could not be read: the store is down
                log.warning("dispatch.route_retry", error=str(exc), offset=record.offset)
                await pause(self._stopping, min(0.2 * 2**attempts, 5.0))
            except Exception as exc:
                if attempts < MAX_ATTEMPTS:
                    await pause(self._stopping, 0.2 * attempts)
                    continue
                error = f"{type(exc).__name__}: {exc}"
                await self._dead_letter(record, message, "kept failing", error, attempts)
                return
        lane = self.lanes.get(name)
        if lane is None:
            lane = self.lanes[name] = LinkLane(
                name,
                self.handler,
                self._finished,
                self._dead_letter,
                self._stopping,
                **self.lane_options,  # type: ignore[arg-type]
            )
        lane.put(record, message)

    async def _dead_letter(
        self, record: Record, message: Message | None, reason: str, error: str, attempts: int
    ) -> None:
        """Kept on the dead-letter topic, and recorded on the message: never ``queued``
        for good because its record could not be sent."""
        await dead_letter(
            self.bus, self._stopping, record, reason, error, attempts, worker=self.name
        )
        if message is not None:
            failure = self.handler.given_up(message, f"dead-lettered: {error}")
            while True:
                try:
                    await self.bus.publish([failure])
                    break
                except BusUnavailable:
                    await pause(self._stopping, 1.0)
        self.dead_lettered += 1
        self._finished(record)

    def _finished(self, record: Record) -> None:
        self._progress.done(record)
        self._moved.set()

    async def _wait_for_room(self) -> None:
        self._moved.clear()
        await self._commit()
        if len(self._progress) >= self.max_in_flight:
            waits = [asyncio.ensure_future(e.wait()) for e in (self._moved, self._stopping)]
            try:
                await asyncio.wait(waits, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()

    async def _commit(self, *, once: bool = False) -> None:
        records = self._progress.committable()
        while records:
            try:
                await self.consumer.commit(records)
                return
            except BusUnavailable as exc:
                log.warning("bus.commit_failed", worker=self.name, error=str(exc))
                if once or self._stopping.is_set():
                    return  # handed out again after the restart: handlers are idempotent
                await pause(self._stopping, 1.0)
