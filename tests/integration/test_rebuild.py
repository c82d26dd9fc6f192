"""A rebuild keeps its shadows' versions in memory and writes them in few statements: what
it builds, and what the live feed does after it, stay what feeding every event once does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.event_store import store_env
from chainon.projections import rebuild as rebuilding
from chainon.projections.catalogue import all_projections
from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.runner import Views
from chainon.projections.sqlite import SQLiteReadModels
from chainon.settings import StoreKind
from chainon.views import views_of
from tests.conftest import BRAND_SMS, make_settings
from tests.integration.test_views_runner import fill


def receive(core: Core, first: int, count: int) -> None:
    for i in range(first, first + count):
        core.handle(
            cmd.ReceiveMessage(
                provider="p",
                provider_message_id=f"later-{i}",
                channel=Channel.SMS,
                sender=f"+337{i % 13:08d}",
                recipient=BRAND_SMS,
                body=f"later {i}",
            )
        )


def models(views: Views) -> dict[str, Any]:
    """Every row of every model and its versions: what a second feed must not change."""
    store: ReadModelStore = views.store
    out: dict[str, Any] = {}
    with store.transaction() as cur:
        for name, projection in views.projections.items():
            out[name] = store.dump_in(cur, projection)
            versions = store.fetch(cur, f"SELECT * FROM {name}_versions", {})
            out[name + " versions"] = sorted((r["aggregate_id"], r["version"]) for r in versions)
    return out


@pytest.mark.parametrize("held", [7, 100_000])
def test_a_rebuild_with_events_written_meanwhile_equals_feeding_each_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    # Small batches; a small tally writes the versions (and lets go of the rows looked up)
    # mid-rebuild and at its end, a large one holds both from the first batch to the last.
    monkeypatch.setattr(rebuilding, "BATCH", 25)
    monkeypatch.setattr(rebuilding, "HELD_VERSIONS", held)
    core = Core(store_env(make_settings(StoreKind.SQLITE, tmp_path)))
    rebuilt = views_of(core, SQLiteReadModels(tmp_path / "rebuilt.sqlite3"), all_projections())
    fed = views_of(core, SQLiteReadModels(tmp_path / "fed.sqlite3"), all_projections())
    try:
        fill(core, 60)
        rebuilt.run_until_idle()  # the live models the rebuild replaces
        written = []

        def meanwhile(position: int, head: int) -> None:
            if not written:  # events past the rebuild's head: the swap's catch-up applies them
                receive(core, 0, 20)
                written.append(position)

        rebuilt_count = rebuilding.rebuild_many(rebuilt, sorted(rebuilt.projections), meanwhile)
        assert written
        assert rebuilt_count > 25
        receive(core, 20, 5)
        rebuilt.run_until_idle()  # the live feed again, from before the rebuild's events
        fed.run_until_idle()
        assert models(rebuilt) == models(fed)
        assert all(s.lag == 0 for s in rebuilt.status())
    finally:
        rebuilt.store.close()
        fed.store.close()
        core.close()
