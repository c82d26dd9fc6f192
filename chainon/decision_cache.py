"""The aggregates the core decides on, kept between units of work without copies and
without a query per load.

eventsourcing's repository cache hands out a deep copy on every load, so that a command
that mutates an aggregate and then fails cannot leave the cached one changed, and it
asks the store for newer events on every load, in case another process wrote. The
profile of an inbound burst showed the copies as a fifth of the core's time (a
conversation's copy grows with its messages) and the per-load queries as another fifth.

Copies: the deciding unit of work gets the cached instance itself, and the duty moves to
the caller: one unit of work at a time (the core holds a lock while it decides and
saves), and every aggregate of a unit that failed, or that still holds events nobody
saved, is evicted, so the next load replays it from the store. Nothing outside a unit
ever sees these instances: reads replay from the store (``Core.construct_repository``).

Queries: at the start of each unit of work, ``sync`` asks the store for its newest
notification id, once. When every notification since the last sync is one this cache
saved itself (the usual case: one core per partition of conversations), nothing cached
is stale. Otherwise it reads which aggregates the notifications it did not write are
about (not their events: ``adapters.persistence``) and evicts them. Both SQLite (one
writer) and eventsourcing's PostgreSQL recorder (a table lock on insert) make
notification ids visible in order, so no write is missed.

The store's "no such aggregate" is kept too, by the same rule: an id stays absent until a
unit of work saves it or a notification of another writer names it. Most messages look
up ids that do not exist (the brand's flow library, a refusal of the message, a bot's
dialogue): on PostgreSQL each was a round trip, and at a steady rate, in batches of one
or two messages, those trips were most of a decision's time. Records written once and
rarely read again (a message's index entries, refusals, idempotency records) are not
kept when new: under a burst over thousands of conversations they pushed the
conversations themselves out of the cache. The core says which (``kept_when_new``): a
contact's address entry, read by each of their messages, is kept.
A decision can still read an aggregate another process changes a moment later; a write
on it then conflicts and is decided again, as it would without this cache.

What is held is compacted as it is kept (``compact``: the core drops the content of a
conversation's old settled messages, ``domain.conversation_memory``), so that a
conversation's cost in memory does not grow with what its old messages said.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, EventStore, Recording, StoredEvent

from chainon.adapters.persistence.port import log_of

Project = Callable[[Any, Iterable[Any]], Any]
SCAN_PAGE = 1000
MIN_ABSENT = 10_000  # absent ids remembered at least, whatever the cache's size


class DecisionCache:
    def __init__(
        self,
        events: EventStore[UUID],
        recorder: ApplicationRecorder,
        project: Project,
        maxsize: int,
        *,
        kept_when_new: Callable[[Aggregate], bool] = lambda _: True,
        compact: Callable[[Aggregate], object] = lambda _: None,
    ) -> None:
        self.events = events
        self.log = log_of(recorder)
        self.project = project
        self.kept_when_new = kept_when_new
        self.compact = compact
        self._cache: LRUCache[UUID, Aggregate] | None = (
            LRUCache(maxsize=maxsize) if maxsize > 0 else None
        )
        # ids the store had no event for as of the last sync (oldest first, bounded)
        self._absent: OrderedDict[UUID, None] = OrderedDict()
        self._absent_max = max(maxsize, MIN_ABSENT)
        self._synced: int | None = None  # every notification up to here is reflected
        self._ours: set[int] = set()  # notification ids this cache saved since then
        self.foreign_seen = 0  # notifications written elsewhere (evictions they caused)

    def sync(self) -> None:
        """Evicts whatever another process changed since the last sync (the ids it made
        exist no longer count as absent)."""
        if self._cache is None:
            self._absent.clear()  # without a cache, nothing outlives its unit of work
            return
        head = self.log.head()
        if self._synced is None:  # nothing cached yet can be older than this
            self._synced, self._ours = head, set()
            return
        if head <= self._synced:
            return
        ours = {i for i in self._ours if self._synced < i <= head}
        if len(ours) < head - self._synced:  # someone else wrote (or an id was skipped)
            self._evict_foreign(self._synced, head, ours)
        self._synced = head
        self._ours = {i for i in self._ours if i > head}

    def _evict_foreign(self, after: int, head: int, ours: set[int]) -> None:
        start = after + 1
        while start <= head:
            page = self.log.logged(start, head, SCAN_PAGE)
            for notification in page:
                if notification.id not in ours:
                    self.foreign_seen += 1
                    self.evict(UUID(notification.aggregate_id))
            if len(page) < SCAN_PAGE:
                return
            start = page[-1].id + 1

    def load(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate as of the last sync (and this unit's own changes), or None if the
        store has no events for it."""
        if aggregate_id in self._absent:
            return None
        if self._cache is not None:
            with contextlib.suppress(KeyError):
                return self._cache.get(aggregate_id)
        aggregate: Aggregate | None = self.project(
            None, self.events.get(originator_id=aggregate_id)
        )
        self._hold(aggregate_id, aggregate)
        return aggregate

    def _hold(self, aggregate_id: UUID, aggregate: Aggregate | None) -> None:
        if aggregate is None:
            self._absent[aggregate_id] = None
            self._absent.move_to_end(aggregate_id)
            if len(self._absent) > self._absent_max:
                self._absent.popitem(last=False)
        elif self._cache is not None:
            self.compact(aggregate)
            self._cache.put(aggregate_id, aggregate)

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        """Loads, in one query, the aggregates a batch is about to look up and does not
        hold yet (and remembers which of them do not exist)."""
        if self._cache is None:
            return
        held = self._cache.cache
        wanted = [
            i for i in dict.fromkeys(aggregate_ids) if i not in held and i not in self._absent
        ]
        if not wanted:
            return
        stored: dict[UUID, list[StoredEvent]] = {}
        for event in self.log.events_of(wanted):
            stored.setdefault(UUID(str(event.originator_id)), []).append(event)
        to_domain = self.events.mapper.to_domain_event
        for aggregate_id in wanted:
            events = stored.get(aggregate_id)
            aggregate = None if events is None else self.project(None, map(to_domain, events))
            self._hold(aggregate_id, aggregate)

    def keep(self, aggregates: Iterable[Aggregate], recordings: Iterable[Recording[UUID]]) -> None:
        """Keeps what a unit of work saved; drops what it changed without saving."""
        if self._cache is None:
            return
        self._ours.update(r.notification.id for r in recordings)
        held = self._cache.cache
        for aggregate in aggregates:
            self._absent.pop(aggregate.id, None)
            if aggregate.pending_events:
                self.evict(aggregate.id)
            elif aggregate.id in held or self.kept_when_new(aggregate):
                self.compact(aggregate)
                self._cache.put(aggregate.id, aggregate)

    def forget(self, aggregates: Iterable[Aggregate]) -> None:
        """Evicts what a failed unit of work may have changed."""
        for aggregate in aggregates:
            self.evict(aggregate.id)

    def evict(self, aggregate_id: UUID) -> None:
        self._absent.pop(aggregate_id, None)
        if self._cache is None:
            return
        with contextlib.suppress(KeyError):
            self._cache.get(aggregate_id, evict=True)

    def cached(self, aggregate_id: UUID) -> Aggregate | None:
        """The instance held for this id, as it is (for tests and diagnostics)."""
        if self._cache is None:
            return None
        link = self._cache.cache.get(aggregate_id)
        return None if link is None else link[LRUCache.RESULT]
