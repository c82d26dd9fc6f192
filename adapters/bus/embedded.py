"""The embedded durable log: the bus port over a SQLite file, for the one-process default.

Each topic is one ordered log (one partition), so order holds for every key at once. A
group's committed position is stored in the same file; a restarted consumer resumes there.
Publishing wakes the consumers of this process at once, and those of other processes
through the log's doorbell (``log_bell``; ``published_listeners`` may tell them too, as
``chainon serve``'s pipes do); a consumer that hears nothing looks again when its poll's
timer runs out. One consumer per group: each role runs in one process. Concurrent
publishers share transactions (group commit): what queues while one write is on the disk
goes in the next, together.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from chainon.adapters.bus.log_bell import Bell, bells_of
from chainon.adapters.bus.port import BusUnavailable, Outgoing, Record

T = TypeVar("T")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS bus_records (
        topic TEXT NOT NULL, offset INTEGER NOT NULL, key TEXT, value BLOB NOT NULL,
        headers TEXT NOT NULL DEFAULT '', timestamp_ms INTEGER NOT NULL,
        PRIMARY KEY (topic, offset)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS bus_positions (
        grp TEXT NOT NULL, topic TEXT NOT NULL, next_offset INTEGER NOT NULL,
        PRIMARY KEY (grp, topic)) WITHOUT ROWID""",
]


def _encode_headers(headers: tuple[tuple[str, bytes], ...]) -> str:
    return "\n".join(f"{k}:{v.hex()}" for k, v in headers)


def _decode_headers(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple(
        (k, bytes.fromhex(v)) for k, _, v in (line.partition(":") for line in text.splitlines())
    )


class EmbeddedBus:
    def __init__(self, path: Path, *, linger: float = 0.0) -> None:
        """``linger``: a consumer that had to wait for news waits this long more before it
        reads, so that records published together are fetched together."""
        self.path = path
        self.linger = linger
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._waiting: set[asyncio.Future[None]] = set()  # consumers' polls with nothing
        # Counts, per topic, the writes this process heard of, so that one heard while a
        # consumer was reading the log is not lost on it (it reads again rather than wait
        # for the next), and a consumer is woken by its own topics only. ``rung_all`` counts
        # the news that named no topic.
        self.rung: collections.Counter[str] = collections.Counter()
        self.rung_all = 0
        self._bell = Bell(bells_of(path))
        self._queued: list[tuple[Sequence[Outgoing], asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None
        # Called after each write: another process's consumers may be told (they poll).
        self.published_listeners: list[Callable[[], None]] = []

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            db.execute(statement)
        self._db = db

    async def stop(self) -> None:
        self._bell.close()
        if self._db is not None:
            with self._lock:
                self._db.close()
            self._db = None

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Topics need no creation in the embedded log."""

    async def publish(self, records: Sequence[Outgoing]) -> None:
        if not records:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((records, done))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_queued(), name="embedded-bus-write")
        await done

    async def _write_queued(self) -> None:
        while self._queued:
            batch, self._queued = self._queued[:1000], self._queued[1000:]
            records = [record for records, _ in batch for record in records]
            try:
                await self._run(self._insert, records)
            except Exception as exc:  # the file is locked or gone: each publisher hears it
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
            topics = {record.topic for record in records}
            self._bell.ring("\n".join(sorted(topics)).encode())
            self.heard(topics)
            for listener in self.published_listeners:
                listener()

    async def published_elsewhere(self) -> None:
        """Records are on the log, on topics unknown: this process's consumers look."""
        self.heard(None)

    def heard(self, topics: Iterable[str] | None) -> None:
        """Records are on the log (on ``topics``; None: unknown): this process's consumers
        of them look at once."""
        if topics is None:
            self.rung_all += 1
        else:
            self.rung.update(topics)
        for waiting in self._waiting:
            if not waiting.done():
                waiting.set_result(None)
        self._waiting.clear()

    def news(self, topics: Iterable[str]) -> int:
        """What this process heard of writes to ``topics`` so far, to compare later."""
        return self.rung_all + sum(self.rung[topic] for topic in topics)

    @property
    def rings_others(self) -> bool:
        """Whether this log's other processes hear its writes by its doorbell."""
        return self._bell.usable

    def listen(self) -> None:
        """This process consumes: other processes' writes ring it (once per bus)."""
        loop = asyncio.get_running_loop()

        def rung(said: list[bytes]) -> None:
            if not all(said):  # a ring that named nothing
                self.heard(None)
            else:
                self.heard({t for s in said for t in s.decode(errors="replace").split("\n")})

        self._bell.listen(loop, rung)

    def consumer(self, group: str, topics: Sequence[str]) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, tuple(topics))

    # Blocking parts, run on a thread so the event loop never waits on the disk.

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.to_thread(self._locked, fn, *args)
        except sqlite3.OperationalError as exc:
            raise BusUnavailable(str(exc)) from exc

    def _locked(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            return fn(*args)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise BusUnavailable("the embedded bus is not started")
        return self._db

    def _insert(self, records: Sequence[Outgoing]) -> None:
        db = self._conn()
        now = int(time.time() * 1000)
        db.execute("BEGIN IMMEDIATE")
        try:
            heads: dict[str, int] = {}
            for record in records:
                if record.topic not in heads:
                    row = db.execute(
                        "SELECT COALESCE(MAX(offset), -1) FROM bus_records WHERE topic = ?",
                        (record.topic,),
                    ).fetchone()
                    heads[record.topic] = row[0]
                heads[record.topic] += 1
                db.execute(
                    "INSERT INTO bus_records VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record.topic,
                        heads[record.topic],
                        record.key,
                        record.value,
                        _encode_headers(record.headers),
                        now,
                    ),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _fetch(self, topic: str, start: int, limit: int) -> list[Record]:
        rows = self._conn().execute(
            "SELECT offset, key, value, headers, timestamp_ms FROM bus_records "
            "WHERE topic = ? AND offset >= ? ORDER BY offset LIMIT ?",
            (topic, start, limit),
        )
        return [
            Record(topic, 0, offset, key, bytes(value), _decode_headers(headers), ts)
            for offset, key, value, headers, ts in rows
        ]

    def _committed(self, group: str, topic: str) -> int:
        row = (
            self._conn()
            .execute(
                "SELECT next_offset FROM bus_positions WHERE grp = ? AND topic = ?", (group, topic)
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def _commit(self, group: str, positions: dict[str, int]) -> None:
        db = self._conn()
        for topic, next_offset in positions.items():
            db.execute(
                "INSERT INTO bus_positions VALUES (?, ?, ?) ON CONFLICT (grp, topic) "
                "DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
                (group, topic, next_offset),
            )

    def _head(self, topic: str) -> int:
        row = (
            self._conn()
            .execute(
                "SELECT COALESCE(MAX(offset), -1) + 1 FROM bus_records WHERE topic = ?", (topic,)
            )
            .fetchone()
        )
        return int(row[0])


class EmbeddedConsumer:
    def __init__(self, bus: EmbeddedBus, group: str, topics: tuple[str, ...]) -> None:
        self.bus = bus
        self.group = group
        self.topics = topics
        self._positions: dict[str, int] = {}

    async def start(self) -> None:
        self.bus.listen()
        for topic in self.topics:
            self._positions[topic] = await self.bus._run(self.bus._committed, self.group, topic)

    async def poll(self, max_records: int, timeout: float) -> list[Record]:
        seen = self.bus.news(self.topics)
        records = await self._fetch(max_records)
        if records or timeout <= 0:
            return records
        deadline = asyncio.get_running_loop().time() + timeout
        while self.bus.news(self.topics) == seen:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return await self._fetch(max_records)
            waiting = asyncio.get_running_loop().create_future()
            self.bus._waiting.add(waiting)
            try:
                await asyncio.wait_for(waiting, left)
            except TimeoutError:
                return await self._fetch(max_records)
            finally:
                self.bus._waiting.discard(waiting)
        if self.bus.linger > 0:
            await asyncio.sleep(self.bus.linger)
        return await self._fetch(max_records)

    async def _fetch(self, max_records: int) -> list[Record]:
        found: list[Record] = []
        for topic in self.topics:
            if len(found) >= max_records:
                break
            batch = await self.bus._run(
                self.bus._fetch, topic, self._positions[topic], max_records - len(found)
            )
            if batch:
                self._positions[topic] = batch[-1].offset + 1
                found.extend(batch)
        return found

    async def commit(self, records: Sequence[Record]) -> None:
        positions: dict[str, int] = {}
        for record in records:
            positions[record.topic] = max(positions.get(record.topic, 0), record.offset + 1)
        if positions:
            await self.bus._run(self.bus._commit, self.group, positions)

    async def lag(self) -> dict[tuple[str, int], int]:
        lags = {}
        for topic in self.topics:
            head = await self.bus._run(self.bus._head, topic)
            committed = await self.bus._run(self.bus._committed, self.group, topic)
            lags[(topic, 0)] = head - committed
        return lags

    async def stop(self) -> None:
        self._positions.clear()
