"""The runner: feeds facts to every projection, and knows how far each has got.

Embedded, the feed is the event store's notification log itself (polled, since SQLite
cannot notify: ``feed_from_store``); distributed, it is the events topic
(``projections.topic_feed``). Either way each projection applies each fact once
(``projections.read_model_store``). Rebuild and verify (``projections.rebuild``) always read the
store: it is the source of truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from eventsourcing.persistence import Notification

from chainon.domain.errors import NotFound
from chainon.domain.public_events import is_public
from chainon.projections.facts import Decode, fact_from_store
from chainon.projections.projection import Fact, Projection
from chainon.projections.read_model_store import ReadModelStore

FEED = "feed:store"
BATCH = 1000
MARK = ":applied-through"  # a projection's low-water mark, fed from the bus
MARK_SCAN = 10 * BATCH  # notifications a reader's low-water mark looks past in one call


class Logged(Protocol):
    """A notification's place and subject, without its event."""

    @property
    def id(self) -> int: ...
    @property
    def aggregate_id(self) -> str: ...  # the canonical UUID string, as facts carry it
    @property
    def version(self) -> int: ...
    @property
    def topic(self) -> str: ...


class StoreLog(Protocol):
    """The event store's log as the runner reads it (``adapters.persistence`` has one per
    backend; the core's wiring passes it in)."""

    def head(self) -> int: ...

    def notifications(
        self, start: int, limit: int, stop: int | None = None
    ) -> Sequence[Notification]: ...

    def logged(self, start: int, stop: int, limit: int) -> Sequence[Logged]:
        """From ``start`` to ``stop`` (both included), at most ``limit``, without states."""
        ...


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
        log: StoreLog,
        decode: Decode,
        store: ReadModelStore,
        projections: Sequence[Projection],
        *,
        fed_by_bus: bool = False,
        feed: str = FEED,
        to_fact: Callable[[Notification], Fact] | None = None,
    ) -> None:
        """``to_fact``: how a notification becomes a fact (default ``fact_from_store`` with
        ``decode``); feeds of one process pass one that shares the facts it built."""
        self.log = log
        self.to_fact = to_fact or partial(fact_from_store, decode)
        self.feed = feed  # the store feed's own position (another follower has its own)
        self.decode = decode
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
            known = ", ".join(sorted(self.projections))
            raise NotFound(f"no projection {name!r} (known: {known})", field="name") from None

    # Feeding

    def apply(self, facts: Sequence[Fact]) -> None:
        """Applies a batch to every projection in one transaction."""
        with self.store.transaction(pipelined=True) as cur:
            self.store.apply_all_in(cur, list(self.projections.values()), facts)

    def feed_from_store(self) -> int:
        """Applies the store's next batch; returns how many notifications it got past.

        Every projection's rows and versions and the feed's position commit in one
        transaction: one write lock and one commit per batch, not one per projection."""
        start = self.store.named_position(self.feed) + 1
        notifications = self.log.notifications(start=start, limit=BATCH)
        if notifications:
            to_fact = self.to_fact
            facts = [to_fact(n) for n in notifications if is_public(n.topic)]
            with self.store.transaction(pipelined=True) as cur:
                self.store.apply_all_in(cur, list(self.projections.values()), facts)
                self.store.set_position_in(cur, self.feed, notifications[-1].id)
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
        feed = self.store.named_position(self.feed)
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
            head = self.log.head()
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
        head = self.log.head()
        if self.fed_by_bus:
            marks = self._marks(list(self.projections.values()), head=head)
            return [Status(name, marks[name], head) for name in self.projections]
        feed = self.store.named_position(self.feed)  # the store feed's own: none when bus-fed
        return [
            Status(name, max(self.store.position(p), feed), head)
            for name, p in self.projections.items()
        ]
