"""``chainon campaigns``: create from a CSV (bad rows by line) or a CRM filter, list, show,
pause and resume and cancel, and watch a campaign the worker sends to its end."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from uuid import UUID

from chainon.domain.campaign import Campaign, CampaignState
from chainon.runtime import Runtime
from chainon.settings import Settings
from tests.e2e.conftest import Run, refused


def created(output: str) -> str:
    found = re.search(r"campaign ([0-9a-f-]{36})", output)
    assert found, output
    return found.group(1)


def drive(data_dir: Path, campaign_id: str) -> CampaignState:
    """The server's campaign worker, stepped by hand until the campaign ends."""

    async def run() -> CampaignState:
        runtime = Runtime(Settings(data_dir=data_dir, demo_brand=False))
        try:
            for _ in range(50):
                await runtime.campaigns.step(UUID(campaign_id))
                found = runtime.core.find(Campaign, UUID(campaign_id))
                assert found is not None
                if found.state is CampaignState.FINISHED:
                    return found.state
            return found.state
        finally:
            runtime.close()

    return asyncio.run(run())


def test_a_csv_campaign_from_create_to_watch(chainon: Run, acme: str, tmp_path: Path) -> None:
    audience = tmp_path / "audience.csv"
    audience.write_text(
        "to,first_name\n+33612345601,Ana\n12,Bob\n+33612345602,\n+33612345601,Ana\n",
        encoding="utf-8",
    )
    made = chainon(
        "campaigns", "create", "--brand", "acme", "--name", "Soldes",
        "--template", "Bonjour {{ first_name }} -20% STOP SMS", "--default", "first_name=client",
        "--csv", str(audience),
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "2 recipient(s), 2 row(s) left out" in made.stdout
    assert "line 3: to:" in made.stdout
    assert "line 5: to: +33612345601 is on line 2 already" in made.stdout
    campaign = created(made.stdout)

    listed = chainon("campaigns", "list", "--brand", "acme")
    assert campaign in listed.stdout
    assert "draft" in listed.stdout

    assert "only a running campaign pauses" in refused(chainon("campaigns", "pause", campaign))
    data_dir = Path(chainon.env["CHAINON_DATA_DIR"])
    made_later = chainon(
        "campaigns", "create", "--brand", "acme", "--name", "Later",
        "--template", "x STOP SMS", "--csv", str(audience),
        "--start-at", "2099-01-01T08:00:00+00:00",
    )  # fmt: skip
    later = created(made_later.stdout)
    cancelled = chainon("campaigns", "cancel", later)
    assert f"campaign {later}: cancelled" in cancelled.stdout

    started = chainon(
        "campaigns", "create", "--brand", "acme", "--name", "Now",
        "--template", "Bonjour {{ first_name }} STOP SMS", "--csv", str(audience), "--start",
    )  # fmt: skip
    now = created(started.stdout)
    assert drive(data_dir, now) is CampaignState.FINISHED
    watched = chainon("campaigns", "watch", now, "--interval", "0.05")
    assert watched.exit_code == 0, watched.output
    assert "2/2" in watched.stdout
    assert f"campaign {now}: finished" in watched.stdout
    shown = chainon("campaigns", "show", now)
    assert re.search(r"decided\s+2", shown.stdout)
    assert re.search(r"blocked\s+2", shown.stdout)  # nobody opted in


def test_a_filter_campaign_needs_a_filter_or_a_csv_not_both(chainon: Run, acme: str) -> None:
    line = refused(
        chainon("campaigns", "create", "--brand", "acme", "--name", "x", "--template", "y")
    )
    assert "csv" in line
