"""eventsourcing's ``Application.save``, step for step, without its two runtime-Protocol
``isinstance`` checks per object (slow on Python 3.11: 5% of an inbound burst).

It calls the application's private steps (``_record``, ``_take_snapshots``, ``_notify``)
as ``Application.save`` does, so it must follow the library's version:
``tests/unit/test_saving.py`` fails when eventsourcing's ``save`` or ``collect_events``
changes.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording


def save(app: Application[UUID], *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
    """Records the objects' pending events (an ``Aggregate``'s by its own method, anything
    else as ``collect_events`` takes it), takes the snapshots due and notifies, as
    ``Application.save`` does; returns the recordings."""
    processing = ProcessingEvent[UUID]()
    for obj in objs:
        if isinstance(obj, Aggregate):
            processing.events.extend(obj.collect_events())
            processing.aggregates[obj.id] = obj
        else:
            processing.collect_events(obj)
    processing.saved_kwargs.update(kwargs)
    recordings = app._record(processing)
    app._take_snapshots(processing)
    app._notify(recordings)
    app.notify(processing.events)  # deprecated upstream, kept for subclasses
    return recordings
