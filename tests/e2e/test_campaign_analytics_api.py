"""A campaign's figures in GET /v1/analytics: the same as its progress in
GET /v1/campaigns/{id}, and the same after a rebuild (``projections verify``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bench.scenarios.campaign import weekday_morning_shift
from chainon.projections.rebuild import verify
from chainon.runtime import Runtime
from tests.e2e.test_api import inbound
from tests.e2e.test_campaigns_api import create, until, upload
from tests.e2e.test_send_policy_api import consent

pytestmark = pytest.mark.asyncio

ANA, BOB, NOBODY = "+33612345678", "+33612345679", "+33612345670"
FIGURES = ("queued", "sent", "delivered", "failed", "replies", "opt_outs", "segments")


async def reported(api: httpx.AsyncClient, campaign: str, opt_outs: int) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    window = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=30))}
    for _ in range(200):
        answer = await api.get("/v1/analytics", params=window)
        assert answer.status_code == 200, answer.text
        found = [c for c in answer.json()["campaigns"] if c["campaign_id"] == campaign]
        if found and found[0]["opt_outs"] == opt_outs and found[0]["delivered"] == 2:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the analytics never showed the campaign: {answer.json()}")


async def test_the_analytics_show_each_campaign_as_its_progress(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    shift = weekday_morning_shift(datetime.now(UTC))  # no quiet hours in Paris
    sqlite_runtime.core.clock = lambda: datetime.now(UTC) + shift
    for number in (ANA, BOB):
        opened = await inbound(api, "Bonjour", sender=number)
        await consent(api, opened["contact_id"], "grant")
    await inbound(api, "Bonjour", sender=NOBODY)  # no opt-in: blocked
    template = "Promo {{ first_name }} : -20% sur toute la boutique ce week-end. STOP SMS"
    campaign = (await create(api, channel="sms", template=template))["id"]
    await upload(api, campaign, f"to,first_name\n{ANA},Ana\n{BOB},Bob\n{NOBODY},Noé\n")
    await api.post(f"/v1/campaigns/{campaign}/schedule", json={})
    await until(api, campaign, lambda c: c["progress"]["delivered"] == 2)
    await inbound(api, "C'est jusqu'à quand ?", sender=ANA)
    await inbound(api, "STOP", sender=ANA)
    progress = (await until(api, campaign, lambda c: c["progress"]["opt_outs"] == 1))["progress"]

    figures = await reported(api, campaign, opt_outs=1)
    assert {name: figures[name] for name in FIGURES} == {name: progress[name] for name in FIGURES}
    assert (figures["queued"], figures["replies"], figures["opt_outs"]) == (2, 2, 1)
    assert figures["opt_out_rate"] == progress["opt_out_rate"] == 0.5
    assert figures["cost"] == progress["cost"] == "0.090"  # 2 segments at 0.045
    assert progress["blocked"] == 1  # blocked sends cost nothing and are no campaign output

    views = sqlite_runtime.views
    for name in ("analytics", "campaign_stats"):
        assert await sqlite_runtime.call(verify, views, name) == [], name
