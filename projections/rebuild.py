"""Replay tooling: rebuild projections from the first event, verify a live one.

Both read the event store, the source of truth, whatever feeds the live models; both
build shadow tables (``projections.read_model_store``) so the API keeps serving meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainon.projections.batch_tx import LookedUp
from chainon.projections.facts import facts_of
from chainon.projections.projection import Fact, Projection
from chainon.projections.read_model_store import SHADOW, ReadModelStore
from chainon.projections.runner import BATCH, FEED, Views

Progress = Callable[[int, int], None]  # (position reached, head)
# Aggregates whose versions a rebuild holds in memory before writing them to its shadows:
# written once each, not once a batch, and the memory bounded on a store of millions.
# The rows its projections looked up are held as long (read once, not once a batch).
HELD_VERSIONS = 100_000


def rebuild(views: Views, name: str, progress: Progress | None = None) -> int:
    """Rebuilds a projection from the first event into a shadow, then swaps it in.

    The live model keeps serving meanwhile; the swap catches up in its own transaction.
    Returns how many events were read.
    """
    return rebuild_many(views, [name], progress)


def rebuild_many(views: Views, names: Sequence[str], progress: Progress | None = None) -> int:
    """Rebuilds several projections in one pass over the store (each event read and
    decoded once, applied to every shadow in the same transaction), then swaps them all in
    one transaction. Returns how many events were read."""
    projections = [views.projection(name) for name in names]
    read = _fill_shadows(views, projections, progress)
    store, log = views.store, views.log

    def catch_up(cur: Any, projection: Projection) -> None:
        shadow = projection.name + SHADOW
        start = store.named_position_in(cur, shadow) + 1
        while rest := log.notifications(start=start, limit=BATCH):
            store.apply_in(cur, projection, facts_of(views.decode, rest), SHADOW)
            store.set_position_in(cur, shadow, rest[-1].id)
            start = rest[-1].id + 1

    store.swap_all(projections, catch_up)
    return read


def verify(views: Views, name: str, progress: Progress | None = None) -> list[str]:
    """Rebuilds a shadow and compares it with the live model at the same position;
    returns the differences (none when they agree)."""
    projection = views.projection(name)
    store = views.store
    _fill_shadows(views, [projection], progress, stop_at_live=True)
    try:
        with store.transaction() as cur:
            live_at = max(
                store.named_position_in(cur, projection.name, lock=True),
                store.named_position_in(cur, FEED),
            )
            start = store.named_position_in(cur, projection.name + SHADOW) + 1
            if start <= live_at:
                rest = views.log.notifications(start=start, limit=live_at - start + 1, stop=live_at)
                store.apply_in(cur, projection, facts_of(views.decode, rest), SHADOW)
            live = store.dump_in(cur, projection)
            rebuilt = store.dump_in(cur, projection, SHADOW)
    finally:
        store.drop(projection, SHADOW)
    return differences(live, rebuilt)


def _fill_shadows(
    views: Views,
    projections: Sequence[Projection],
    progress: Progress | None,
    *,
    stop_at_live: bool = False,
) -> int:
    store = views.store
    for projection in projections:
        store.drop(projection, SHADOW)
        store.create(projection, SHADOW)
    head = views.log.head()
    if stop_at_live:
        (projection,) = projections
        head = min(head, max(store.position(projection), store.named_position(FEED)))
    start, read = 1, 0
    applied: dict[str, int] = {}  # the versions the shadows hold, not yet written
    looked_up: dict[str, LookedUp] = {p.name: {} for p in projections}
    while start <= head:
        batch = views.log.notifications(start=start, limit=min(BATCH, head - start + 1), stop=head)
        if not batch:
            break
        facts = _new(facts_of(views.decode, batch), applied)
        with store.transaction(pipelined=True) as cur:
            for projection in projections:
                store.apply_new_in(cur, projection, facts, SHADOW, looked_up[projection.name])
                # Past the batch's last notification, public or not: a rebuilt model
                # is at the store's head, not behind by the index entries after its
                # last fact (`projections status` showed those as a lag).
                store.set_position_in(cur, projection.name + SHADOW, batch[-1].id)
            if len(applied) >= HELD_VERSIONS:
                _write_versions(store, cur, projections, applied)
                for rows in looked_up.values():
                    rows.clear()
        read += len(batch)
        start = batch[-1].id + 1
        if progress is not None:
            progress(batch[-1].id, head)
    with store.transaction(pipelined=True) as cur:
        _write_versions(store, cur, projections, applied)
    return read


def _new(facts: Sequence[Fact], applied: dict[str, int]) -> list[Fact]:
    """The facts past the versions applied, which move forward. Every shadow is given the
    same facts in the same order, so one tally serves them all, in place of a read of
    their versions tables per batch (a fifth of a rebuild); the store's log holds each
    aggregate's versions once, in order, so the tally cleared when written loses nothing."""
    new = []
    for fact in facts:
        if applied.get(fact.aggregate_id, 0) < fact.aggregate_version:
            applied[fact.aggregate_id] = fact.aggregate_version
            new.append(fact)
    return new


def _write_versions(
    store: ReadModelStore, cur: Any, projections: Sequence[Projection], applied: dict[str, int]
) -> None:
    """Writes the tally to every shadow's versions table, where a catch-up, a verify and,
    after the swap, the live feed read them; then clears it."""
    for projection in projections:
        store.write_versions_in(cur, projection, applied, SHADOW)
    applied.clear()


def differences(live: dict[str, list[str]], rebuilt: dict[str, list[str]]) -> list[str]:
    found = []
    for table in sorted(set(live) | set(rebuilt)):
        a, b = set(live.get(table, [])), set(rebuilt.get(table, []))
        found += [f"{table}: only live: {row}" for row in sorted(a - b)]
        found += [f"{table}: only rebuilt: {row}" for row in sorted(b - a)]
    return found
