"""``adapters.persistence.saving`` copies eventsourcing's ``save`` step for step: it must
change when the library's does, and it must record and notify exactly as the library's."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, event
from eventsourcing.persistence import Recording

from chainon.adapters.persistence import saving

# What eventsourcing 9.5 does, as ``ast.unparse`` writes it (no docstring, no comments).
PINNED_SAVE = """\
processing_event: ProcessingEvent[TAggregateID] = ProcessingEvent()
processing_event.collect_events(*objs, **kwargs)
recordings = self._record(processing_event)
self._take_snapshots(processing_event)
self._notify(recordings)
self.notify(processing_event.events)
return recordings"""
PINNED_COLLECT_EVENTS = """\
for obj in objs:
    if obj is None:
        continue
    if isinstance(obj, DomainEventProtocol):
        self.events.append(obj)
    else:
        if isinstance(obj, CollectEventsProtocol):
            for event in obj.collect_events():
                self.events.append(event)
        self.aggregates[obj.id] = obj
self.saved_kwargs.update(kwargs)"""
CHANGED = "eventsourcing's save changed: check adapters/persistence/saving.py still mirrors it"
NAMESPACE = UUID("6f1f8f43-6a55-4d43-9f0b-7b0d1b7c2a10")


def body_of(function: Callable[..., Any]) -> str:
    """The function's statements without its docstring, formatting or comments."""
    node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    assert isinstance(node, ast.FunctionDef)
    body = node.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return "\n".join(ast.unparse(statement) for statement in body)


def test_eventsourcings_save_is_still_the_one_copied() -> None:
    assert body_of(Application.save) == PINNED_SAVE, CHANGED
    assert body_of(ProcessingEvent.collect_events) == PINNED_COLLECT_EVENTS, CHANGED


class Counter(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE, name)

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class Watched(Application[UUID]):
    """Snapshots every second version, and remembers what each notification step got."""

    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Counter: 2}

    def __init__(self) -> None:
        super().__init__()
        self.notified: list[list[Recording[UUID]]] = []
        self.notified_events: list[list[DomainEventProtocol[UUID]]] = []

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        self.notified.append(recordings)

    def notify(self, new_events: list[DomainEventProtocol[UUID]]) -> None:
        self.notified_events.append(new_events)


def three_saves(save: Callable[..., list[Recording[UUID]]]) -> tuple[Watched, list[Any]]:
    """Two counters, then one of them counted (with ``None`` and an event given as is)."""
    app = Watched()
    first, second = Counter("first"), Counter("second")
    results: list[Any] = [save(app, first, second)]
    first.count_one()
    results.append(save(app, first, None))
    loose = Counter("loose")
    (created,) = loose.collect_events()
    results.append(save(app, created))
    return app, results


def shape(recordings: list[Recording[UUID]]) -> list[tuple[int, UUID, int, str]]:
    return [
        (
            r.notification.id,
            UUID(str(r.notification.originator_id)),
            r.notification.originator_version,
            r.notification.topic,
        )
        for r in recordings
    ]


def test_it_records_snapshots_and_notifies_as_the_librarys_save() -> None:
    def library(app: Application[UUID], *objs: Any) -> list[Recording[UUID]]:
        return app.save(*objs)

    theirs, their_results = three_saves(library)
    ours, our_results = three_saves(saving.save)

    assert [shape(r) for r in our_results] == [shape(r) for r in their_results]
    assert [len(r) for r in our_results] == [2, 1, 1]
    assert [shape(r) for r in ours.notified] == [shape(r) for r in theirs.notified]
    assert [[type(e) for e in events] for events in ours.notified_events] == [
        [type(e) for e in events] for events in theirs.notified_events
    ]
    first = Counter.create_id("first")
    assert ours.repository.get(first).count == theirs.repository.get(first).count == 1
    assert ours.snapshots is not None
    assert theirs.snapshots is not None
    assert [s.originator_version for s in ours.snapshots.get(first)] == [2]
    assert [s.originator_version for s in theirs.snapshots.get(first)] == [2]
