"""The read side at run time: feeds facts to every projection, rebuilds and verifies them.

Embedded, the feed is the event store's notification log itself (polled, since SQLite
cannot notify); distributed, it is the events topic. Either way each projection applies
each fact once (``projections.store``). Rebuild and verify always read the store: it is
the source of truth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Notification
from pydantic_core import to_jsonable_python

from adapters.bus.port import Bus, BusUnavailable, Consumer
from adapters.persistence.port import log_of
from chainon.core import Core
from chainon.records import EventRecord
from chainon.relay import event_data, is_public
from projections.projection import Fact, Projection
from projections.store import SHADOW, ReadModelStore

log = structlog.get_logger(__name__)
FEED = "feed:store"
BATCH = 1000
MARK = ":applied-through"  # a projection's low-water mark, fed from the bus
MARK_SCAN = 10 * BATCH  # notifications a reader's low-water mark looks past in one call


def fact_of(record: EventRecord) -> Fact:
    """The same fact, whether the record came from the store or from Kafka."""
    as_json = record.model_dump(mode="json")
    return Fact(
        type=record.type,
        aggregate_id=str(record.aggregate_id),
        aggregate_version=record.aggregate_version,
        position=record.position,
        timestamp=record.timestamp,
        data=as_json["data"],
    )


def facts_of(core: Core, notifications: Sequence[Notification]) -> list[Fact]:
    return [fact_from_store(core, n) for n in notifications if is_public(n.topic)]


def fact_from_store(core: Core, notification: Notification) -> Fact:
    """``fact_of`` of the event's ``EventRecord``, without building and dumping the
    pydantic record in between (that was two thirds of a rebuild's time per event): the
    event is still decoded by the store's mapper, upcasters included, and its fields are
    turned into JSON types by the same serializer the record's dump uses."""
    event = core.mapper.to_domain_event(notification)
    data = event_data(event)
    return Fact(
        type=notification.topic.removeprefix("chainon:"),
        aggregate_id=str(UUID(str(notification.originator_id))),
        aggregate_version=notification.originator_version,
        position=notification.id,
        timestamp=event.timestamp,  # type: ignore[attr-defined]
        data=to_jsonable_python(data),
    )


@dataclass
class Status:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


class Views:
    def __init__(
        self,
        core: Core,
        store: ReadModelStore,
        projections: Sequence[Projection],
        *,
        fed_by_bus: bool = False,
    ) -> None:
        self.core = core
        self.log = log_of(core.recorder)
        self.store = store
        self.projections = {p.name: p for p in projections}
        self.fed_by_bus = fed_by_bus
        store.ensure_positions()
        for projection in projections:
            store.create(projection)

    def projection(self, name: str) -> Projection:
        try:
            return self.projections[name]
        except KeyError:
            from domain.errors import NotFound

            known = ", ".join(sorted(self.projections))
            raise NotFound(f"no projection {name!r} (known: {known})", field="name") from None

    # Feeding

    def apply(self, facts: Sequence[Fact]) -> None:
        """Applies a batch to every projection in one transaction."""
        with self.store.transaction(pipelined=True) as cur:
            for projection in self.projections.values():
                self.store.apply_in(cur, projection, facts)

    def feed_from_store(self) -> int:
        """Applies the store's next batch; returns how many notifications it got past.

        Every projection's rows and versions and the feed's position commit in one
        transaction: one write lock and one commit per batch, not one per projection."""
        start = self.store.named_position(FEED) + 1
        notifications = self.core.recorder.select_notifications(start=start, limit=BATCH)
        if notifications:
            facts = facts_of(self.core, notifications)
            with self.store.transaction(pipelined=True) as cur:
                for projection in self.projections.values():
                    self.store.apply_in(cur, projection, facts)
                self.store.set_position_in(cur, FEED, notifications[-1].id)
        return len(notifications)

    def run_until_idle(self) -> int:
        total = 0
        while read := self.feed_from_store():
            total += read
        return total

    # Reading

    @property
    def position(self) -> int:
        """The store position every projection has reached (what reads may rely on)."""
        if self.fed_by_bus:
            return min(self._marks(list(self.projections.values())).values())
        feed = self.store.named_position(FEED)
        lowest = min(self.store.position(p) for p in self.projections.values())
        return max(feed, lowest)

    def applied_through(self, projection: Projection, scan: int = MARK_SCAN) -> int:
        """The position up to which the projection has applied every event: its low-water
        mark. Fed from the events topic, a projection gets each partition in order but
        the partitions at their own pace, so the highest position it applied says nothing
        of a lower one still on its way in another partition; reading there would miss a
        write the caller was told was included."""
        return self._marks([projection], scan=scan)[projection.name]

    def advance_marks(self, scan: int = 10 * MARK_SCAN) -> None:
        """Moves every projection's low-water mark as far as the applied events allow."""
        self._marks(list(self.projections.values()), scan=scan)

    def _marks(
        self, projections: Sequence[Projection], *, head: int | None = None, scan: int = MARK_SCAN
    ) -> dict[str, int]:
        """Each projection's mark moves past every notification its versions show applied
        (or that is no projection's business) and stops before the first public event they
        do not. The marks are kept in the store, so every process starts from the furthest
        any has found; one scan of the log (at most ``scan`` notifications, without their
        events' state) serves every projection."""
        if head is None:
            head = self.core.recorder.max_notification_id() or 0
        found = {p.name: self.store.named_position(p.name + MARK) for p in projections}
        marks = dict(found)
        moving = {p.name: p for p in projections}
        start, looked = min(marks.values()), 0
        while moving and start < head and looked < scan:
            page = self.log.logged(start + 1, head, min(BATCH, scan - looked))
            if not page:
                break
            looked += len(page)
            public = [n for n in page if is_public(n.topic)]
            for name, projection in list(moving.items()):
                ahead = {n.aggregate_id for n in public if n.id > marks[name]}
                applied = self.store.versions(projection, ahead) if ahead else {}
                for n in page:
                    if n.id <= marks[name]:
                        continue
                    if is_public(n.topic) and applied.get(n.aggregate_id, 0) < n.version:
                        del moving[name]
                        break
                    marks[name] = n.id
            start = page[-1].id
        moved = {name: mark for name, mark in marks.items() if mark > found[name]}
        if moved:
            with self.store.transaction() as cur:
                for name, mark in moved.items():
                    self.store.set_position_in(cur, name + MARK, mark)
        return marks

    def status(self) -> list[Status]:
        head = self.core.recorder.max_notification_id() or 0
        if self.fed_by_bus:
            marks = self._marks(list(self.projections.values()), head=head)
            return [Status(name, marks[name], head) for name in self.projections]
        feed = self.store.named_position(FEED)  # the store feed's own: none when bus-fed
        return [
            Status(name, max(self.store.position(p), feed), head)
            for name, p in self.projections.items()
        ]

    # Replay tooling

    def rebuild(self, name: str, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuilds a projection from the first event into a shadow, then swaps it in.

        The live model keeps serving meanwhile; the swap catches up in its own transaction.
        Returns how many events were read.
        """
        return self.rebuild_many([name], progress)

    def rebuild_many(
        self, names: Sequence[str], progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Rebuilds several projections in one pass over the store (each event read and
        decoded once, applied to every shadow in the same transaction), then swaps each in.
        Returns how many events were read."""
        projections = [self.projection(name) for name in names]
        read = self._fill_shadows(projections, progress)
        for projection in projections:

            def catch_up(cur: Any, projection: Projection = projection) -> None:
                shadow = projection.name + SHADOW
                start = self.store.named_position_in(cur, shadow) + 1
                while rest := self.core.recorder.select_notifications(start=start, limit=BATCH):
                    self.store.apply_in(cur, projection, facts_of(self.core, rest), SHADOW)
                    self.store.set_position_in(cur, shadow, rest[-1].id)
                    start = rest[-1].id + 1

            self.store.swap(projection, catch_up)
        return read

    def verify(self, name: str, progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Rebuilds a shadow and compares it with the live model at the same position;
        returns the differences (none when they agree)."""
        projection = self.projection(name)
        self._fill_shadows([projection], progress, stop_at_live=True)
        try:
            with self.store.transaction() as cur:
                live_at = max(
                    self.store.named_position_in(cur, projection.name, lock=True),
                    self.store.named_position_in(cur, FEED),
                )
                start = self.store.named_position_in(cur, projection.name + SHADOW) + 1
                if start <= live_at:
                    rest = self.core.recorder.select_notifications(
                        start=start, limit=live_at - start + 1, stop=live_at
                    )
                    self.store.apply_in(cur, projection, facts_of(self.core, rest), SHADOW)
                live = self.store.dump_in(cur, projection)
                rebuilt = self.store.dump_in(cur, projection, SHADOW)
        finally:
            self.store.drop(projection, SHADOW)
        return differences(live, rebuilt)

    def _fill_shadows(
        self,
        projections: Sequence[Projection],
        progress: Callable[[int, int], None] | None,
        *,
        stop_at_live: bool = False,
    ) -> int:
        for projection in projections:
            self.store.drop(projection, SHADOW)
            self.store.create(projection, SHADOW)
        head = self.core.recorder.max_notification_id() or 0
        if stop_at_live:
            (projection,) = projections
            head = min(head, max(self.store.position(projection), self.store.named_position(FEED)))
        start, read = 1, 0
        while start <= head:
            batch = self.core.recorder.select_notifications(
                start=start, limit=min(BATCH, head - start + 1), stop=head
            )
            if not batch:
                break
            facts = facts_of(self.core, batch)
            with self.store.transaction(pipelined=True) as cur:
                for projection in projections:
                    self.store.apply_in(cur, projection, facts, SHADOW)
                    # Past the batch's last notification, public or not: a rebuilt model
                    # is at the store's head, not behind by the index entries after its
                    # last fact (`projections status` showed those as a lag).
                    self.store.set_position_in(cur, projection.name + SHADOW, batch[-1].id)
            read += len(batch)
            start = batch[-1].id + 1
            if progress is not None:
                progress(batch[-1].id, head)
        return read


def differences(live: dict[str, list[str]], rebuilt: dict[str, list[str]]) -> list[str]:
    found = []
    for table in sorted(set(live) | set(rebuilt)):
        a, b = set(live.get(table, [])), set(rebuilt.get(table, []))
        found += [f"{table}: only live: {row}" for row in sorted(a - b)]
        found += [f"{table}: only rebuilt: {row}" for row in sorted(b - a)]
    return found


class KafkaFeed:
    """Distributed: the events topic, committed after the batch was applied."""

    def __init__(self, views: Views, bus: Bus, consumer: Consumer, call: Any) -> None:
        self.views = views
        self.bus = bus
        self.consumer = consumer
        self.call = call

    async def run(self, stopping: asyncio.Event) -> None:
        await self.consumer.start()
        marked = True  # the stored low-water marks cover what this feed applied
        try:
            while not stopping.is_set():
                try:
                    records = await self.consumer.poll(BATCH, timeout=0.5)
                except BusUnavailable:
                    await asyncio.sleep(1.0)
                    continue
                if not records and not marked:
                    # Idle: the stored marks catch up, so readers start from there. Never
                    # while there is a backlog (it cost the feed a second of latency under
                    # load): readers move the marks they need themselves.
                    await self.call(self.views.advance_marks)
                    marked = True
                facts = []
                for r in records:
                    try:
                        facts.append(fact_of(EventRecord.model_validate_json(r.value)))
                    except ValueError as exc:
                        log.error("views.unreadable_event", offset=r.offset, error=str(exc))
                if facts:
                    await self.call(self.views.apply, facts)
                    marked = False
                if records:
                    await self.consumer.commit(records)
        finally:
            await self.consumer.stop()
