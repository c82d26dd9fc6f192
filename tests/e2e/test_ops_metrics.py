"""What an operator alerts on: each SMPP link's state (bound now, or not) and the
conversations past their first-response SLA, on the ``/metrics`` Prometheus scrapes."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from chainon.api.app import create_app
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from chainon.settings import SmppLinkSettings, StoreKind
from devtools.smsc_simulator import Smsc
from tests.conftest import BRAND_SMS, make_settings

pytestmark = pytest.mark.asyncio


async def scrape(runtime: Runtime, metric: str) -> dict[str, float]:
    """The metric's samples, by their label set as written."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
    ) as client:
        text = (await client.get("/metrics")).text
    return {
        labels: float(value)
        for labels, value in re.findall(rf"^{metric}(\{{[^}}]*\}}) (\S+)$", text, re.MULTILINE)
    }


async def until(runtime: Runtime, metric: str, labels: str, value: float) -> dict[str, float]:
    for _ in range(300):
        found = await scrape(runtime, metric)
        if found.get(labels) == value:
            return found
        await asyncio.sleep(0.05)
    return found


async def test_an_smpp_link_is_up_while_bound_and_down_while_the_smsc_is_away(
    tmp_path: Path,
) -> None:
    with Smsc(system_id="chainon", password="secret", directory=tmp_path / "smsc") as smsc:
        link = SmppLinkSettings(
            name="aggregator",
            host="127.0.0.1",
            port=smsc.port,
            system_id="chainon",
            password="secret",  # type: ignore[arg-type]
        )
        settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
            update={"smpp_links": [link]}
        )
        runtime = Runtime(settings)
        await runtime.start()
        try:
            up = await until(runtime, "chainon_smpp_link_up", '{link="smpp:aggregator"}', 1.0)
            assert up == {'{link="smpp:aggregator"}': 1.0}
            smsc.stop()
            down = await until(runtime, "chainon_smpp_link_up", '{link="smpp:aggregator"}', 0.0)
            assert down == {'{link="smpp:aggregator"}': 0.0}
        finally:
            await runtime.stop()
            runtime.close()
    assert '{link="smpp:aggregator"}' not in await scrape(runtime, "chainon_smpp_link_up")


async def test_waiting_conversations_past_their_sla_are_counted_per_brand(
    tmp_path: Path,
) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={"deadline_poll_interval": 0.02}
    )
    runtime = Runtime(settings)
    real = runtime.core.clock
    await runtime.start()
    try:
        brand = runtime.core.register_brand(
            slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)]
        )
        await runtime.handle(cmd.ConfigureQueue(brand_id=brand.id, first_response_minutes=5))
        for i, sender in enumerate(("+33612345601", "+33612345602")):
            await runtime.handle(
                cmd.ReceiveMessage(
                    provider="sandbox",
                    provider_message_id=f"in-{i}",
                    channel=Channel.SMS,
                    sender=sender,
                    recipient=BRAND_SMS,
                    body="Bonjour ?",
                )
            )
        labels = f'{{brand="{brand.id}"}}'
        await asyncio.sleep(2.0)  # a few counting rounds (every 0.6 s here)
        in_time = await scrape(runtime, "chainon_queue_sla_breached")
        assert in_time.get(labels, 0.0) == 0.0  # five minutes to answer: none breached yet
        runtime.core.clock = lambda: real() + timedelta(minutes=6)
        breached = await until(runtime, "chainon_queue_sla_breached", labels, 2.0)
        assert breached[labels] == 2.0
    finally:
        await runtime.stop()
        runtime.close()
