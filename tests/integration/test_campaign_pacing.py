"""The throughput cap per sender number: two campaigns sending from one number share its
budget, a campaign on another number does not wait for them. The worker runs on a real
SQLite store with a pace whose clock only moves when it sleeps, so an afternoon of pacing
takes no time."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from chainon.campaign_audience import AudienceStore
from chainon.campaign_worker import CampaignWorker, SenderPace
from chainon.domain import commands as cmd
from chainon.domain.campaign import Campaign
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import make_settings, register

pytestmark = pytest.mark.asyncio
T = TypeVar("T")


class StoppedClock:
    """Time that passes only by sleeping: each sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(
        make_settings(StoreKind.SQLITE, tmp_path)
    )  # not started: no worker of its own
    yield runtime
    runtime.close()


async def inline(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return fn(*args, **kwargs)


def campaign(runtime: Runtime, brand_id: UUID, rate: int, recipients: int, number: int) -> UUID:
    campaign_id = uuid4()
    runtime.core.handle(
        cmd.CreateCampaign(
            brand_id=brand_id,
            campaign_id=campaign_id,
            name=f"Soldes {campaign_id.hex[:4]}",
            template="Soldes -20 % ce week-end. STOP SMS",
            channel=Channel.SMS,
            rate_per_second=rate,
            audience="csv",
            defaults={},
        )
    )
    store = AudienceStore.of(runtime.views.store)
    found = runtime.core.get(Campaign, campaign_id)
    store.register(campaign_id, brand_id, found.created_on.isoformat())
    rows = "\n".join(["to", *(f"+33612{number}{i:05d}" for i in range(recipients))])
    imported = store.import_csv(campaign_id, Channel.SMS, io.StringIO(rows), "FR")
    assert imported.recipients == recipients
    runtime.core.handle(
        cmd.ImportCampaignAudience(
            brand_id=brand_id, campaign_id=campaign_id, recipients=recipients, rejected=0
        )
    )
    runtime.core.handle(cmd.ScheduleCampaign(brand_id=brand_id, campaign_id=campaign_id))
    store.set_active(campaign_id, True)
    return campaign_id


async def test_two_campaigns_on_one_number_share_its_budget_and_another_number_waits_not(
    runtime: Runtime,
) -> None:
    acme = register(runtime).brand
    other = register(runtime, slug="autre-marque", sms="+33939000009").brand
    first = campaign(runtime, acme.id, rate=5, recipients=10, number=1)  # two batches of 5 each
    second = campaign(runtime, acme.id, rate=5, recipients=10, number=2)
    elsewhere = campaign(runtime, other.id, rate=5, recipients=5, number=3)
    time = StoppedClock()
    worker = CampaignWorker(
        runtime.core,
        lambda: runtime.views.store,
        inline,
        pace=SenderPace(time.clock, time.sleep),
    )
    for campaign_id in (first, second, elsewhere):
        assert await worker.step(campaign_id)  # started

    for campaign_id in (first, second, first, second):
        assert await worker.step(campaign_id)
    # 5 messages at 5/s hold the number one second, whichever campaign sends them: the
    # first batch goes at once, each next one waits for the one before it.
    assert time.slept == [1.0, 1.0, 1.0]
    assert time.now == 1003.0

    assert await worker.step(elsewhere)  # its own number: free, no wait
    assert time.slept == [1.0, 1.0, 1.0]
    decided = [runtime.core.get(Campaign, c).cursor for c in (first, second, elsewhere)]
    assert decided == [10, 10, 5]
