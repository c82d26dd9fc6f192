"""The unit of work: a batch of commands decided together and saved in one transaction.

Every load of an aggregate in a unit gives the same instance, so a later command sees an
earlier one's changes and two decisions cannot fork an aggregate into conflicting
versions. Units run one at a time, since loads hand out the decision cache's own
instances; a unit that fails for any reason leaves nothing it touched in that cache.
The store's cost is per transaction far more than per event (group commit). If anything
goes wrong in a batch, it is decided again one command at a time, so one bad command
never fails its neighbours. A conflict with another writer is decided again on what
that writer recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError, Recording

from chainon.decision_cache import DecisionCache
from chainon.destination_guard import DestinationGuard
from chainon.domain import commands as cmd
from chainon.domain.errors import DomainError
from chainon.handlers.loading import Loader
from chainon.messagebus import IdempotencyClaim, decide
from chainon.prefetch import prefetch, prefetch_destinations

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
Batch = Sequence[tuple[cmd.Command, IdempotencyClaim | None]]
Save = Callable[..., list[Recording[UUID]]]
MAX_ATTEMPTS = 8


class ConcurrencyExhausted(DomainError):
    """Too many concurrent writers on the same aggregates; the caller may retry later."""


class UnitOfWork:
    def __init__(
        self,
        decisions: DecisionCache,
        save: Save,
        clock: Callable[[], datetime],
        default_region: str,
        guard: DestinationGuard | None = None,
        *,
        list_unsubscribe: bool = True,
    ) -> None:
        self.guard = guard if guard is not None else DestinationGuard()
        self.decisions = decisions
        self.save = save
        self.clock = clock
        self.default_region = default_region
        self.list_unsubscribe = list_unsubscribe
        # The aggregates the unit has loaded or changed, for the thread deciding it.
        self._local = threading.local()
        self._deciding = threading.RLock()

    def loaded(self, aggregate_id: UUID) -> tuple[bool, Aggregate | None]:
        """(True, the unit's instance or None) inside a unit; (False, None) outside one."""
        unit: dict[UUID, Aggregate] | None = getattr(self._local, "aggregates", None)
        if unit is None:
            return False, None
        aggregate = unit.get(aggregate_id)
        if aggregate is None:
            aggregate = self.decisions.load(aggregate_id)
            if aggregate is not None:
                unit[aggregate_id] = aggregate
        return True, aggregate

    def read(self, loader: Loader, query: Callable[[Loader], R]) -> R:
        """Answers ``query`` from the decision cache's instances, between two units.

        A read that replays a conversation from the store costs its whole history; this
        one costs what the query looks at. The query must return plain values, never an
        aggregate: once the lock is let go, the next unit changes them in place.
        """
        with self._deciding:
            unit: dict[UUID, Aggregate] = {}
            self._local.aggregates = unit
            try:
                self.decisions.sync()
                return query(loader)
            finally:
                self._local.aggregates = None
                # a query changes nothing; if one did, the store's version wins again
                self.decisions.forget(a for a in unit.values() if a.pending_events)

    def apart(self, action: Callable[[], R]) -> R:
        """Runs something that writes outside a unit (an erasure, which destroys a key
        beside its event), with no unit deciding meanwhile on what it changes."""
        with self._deciding:
            self.decisions.sync()
            return action()

    def handle(
        self, loader: Loader, command: cmd.Command, idempotency: IdempotencyClaim | None
    ) -> cmd.Outcome:
        for _ in range(MAX_ATTEMPTS):
            try:
                [outcome], recordings = self._run(loader, [(command, idempotency)])
            except RecordConflictError:
                continue  # someone else wrote first: decide again on what they recorded
            if recordings:
                outcome = outcome.model_copy(update={"position": recordings[-1].notification.id})
            return outcome
        raise ConcurrencyExhausted("too many concurrent changes; try again")

    def handle_many(self, loader: Loader, batch: Batch) -> list[cmd.Outcome | Exception]:
        """Decides the commands in order, each seeing the ones before it, and saves them
        all in one transaction; on any error, each alone, with its own error in its place."""
        if len(batch) > 1:
            try:
                return self._decide_together(loader, batch)
            except Exception:  # each command's own error comes next, alone
                pass
        results: list[cmd.Outcome | Exception] = []
        for command, idempotency in batch:
            try:
                results.append(self.handle(loader, command, idempotency))
            except Exception as error:  # handed to that command's caller
                results.append(error)
        return results

    def _decide_together(self, loader: Loader, batch: Batch) -> list[cmd.Outcome | Exception]:
        outcomes, recordings = self._run(loader, batch)
        if not recordings:
            return list(outcomes)
        # Every command's effects are in the read models once they reach the batch's end.
        position = recordings[-1].notification.id
        return [
            o.model_copy(update={"position": position}) if o.changed and not o.duplicate else o
            for o in outcomes
        ]

    def _run(self, loader: Loader, batch: Batch) -> tuple[list[cmd.Outcome], list[Recording[UUID]]]:
        with self._deciding:
            unit: dict[UUID, Aggregate] = {}
            self._local.aggregates = unit
            try:
                self.decisions.sync()
                self.guard.begin()
                if len(batch) > 1:
                    prefetch(self.decisions, batch, self.default_region)
                    prefetch_destinations(self.guard, batch, self.default_region, self.clock())
                outcomes: list[cmd.Outcome] = []
                changed: dict[int, Aggregate] = {}
                for command, idempotency in batch:
                    outcome, touched = decide(loader, command, idempotency, self.clock())
                    for aggregate in touched:
                        unit[aggregate.id] = aggregate
                        changed[id(aggregate)] = aggregate
                    outcomes.append(outcome)
                for aggregate in self.guard.take_changed():  # a prefix blocked: rare
                    unit[aggregate.id] = aggregate
                    changed[id(aggregate)] = aggregate
                recordings = self.save(*changed.values())
            except BaseException:
                self.decisions.forget(unit.values())
                raise
            finally:
                self._local.aggregates = None
            self.decisions.keep(unit.values(), recordings)
            return outcomes, recordings
