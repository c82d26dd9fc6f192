"""The read side wired to a core: the runner (``projections.runner``) reads the core's
event store through the store's own log (``adapters.persistence``) and decodes with the
core's mapper (its upcasters, transcoder and cipher)."""

from __future__ import annotations

from collections.abc import Sequence

from chainon.adapters.persistence.port import log_of
from chainon.core import Core
from chainon.projections.projection import Projection
from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.runner import Views


def views_of(
    core: Core,
    store: ReadModelStore,
    projections: Sequence[Projection],
    *,
    fed_by_bus: bool = False,
) -> Views:
    return Views(
        log_of(core.recorder),
        core.recent_events.decode,  # a replay reads each event once: nothing to share
        store,
        projections,
        fed_by_bus=fed_by_bus,
        to_fact=core.recent_events.fact,
    )
