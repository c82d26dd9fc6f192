"""A reply to a campaign starts the flow whose ``triggers.campaign_reply`` names it (or
``"*"``); a later message, once the bot has spoken, does not start it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey
from tests.e2e.flow_helpers import (
    EMAIL,
    TUESDAY_MORNING,
    bot_events,
    client,
    clock_from,
    publish,
    register_bot_brand,
    said,
    write,
)
from tests.e2e.test_send_policy_api import consent

pytestmark = pytest.mark.asyncio

INTEREST = """\
name: campaign-interest
settings:
  languages: [fr]
triggers:
  campaign_reply: [soldes-hiver]
steps:
  - id: interested
    type: ask
    text: Souhaitez-vous qu'un conseiller vous rappelle ?
    answer: {kind: yes_no}
"""


@pytest.fixture
def brand(sqlite_runtime: Runtime) -> BrandWithKey:
    clock_from(sqlite_runtime, TUESDAY_MORNING)
    return register_bot_brand(sqlite_runtime)


@pytest.fixture
async def api(sqlite_runtime: Runtime, brand: BrandWithKey) -> AsyncIterator[httpx.AsyncClient]:
    async for each in client(sqlite_runtime, brand.key):
        yield each


async def run_campaign(api: httpx.AsyncClient, name: str) -> str:
    body = {
        "name": name,
        "template": "Bonjour, -20% ce week-end.",
        "channel": "email",
        "rate_per_second": 100,
        "audience": "csv",
    }
    created = await api.post("/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign: str = created.json()["id"]
    audience = await api.put(
        f"/v1/campaigns/{campaign}/audience",
        content=f"to\n{EMAIL}\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert audience.status_code == 200, audience.text
    assert (await api.post(f"/v1/campaigns/{campaign}/schedule", json={})).is_success
    found: dict[str, Any] = {}
    for _ in range(300):
        found = (await api.get(f"/v1/campaigns/{campaign}")).json()
        if found["state"] == "finished" and found["progress"]["queued"] == 1:
            return campaign
        await asyncio.sleep(0.05)
    raise AssertionError(f"the campaign never sent: {found}")


async def test_a_reply_to_the_named_campaign_starts_the_flow(api: httpx.AsyncClient) -> None:
    await publish(api, "campaign-interest", INTEREST)
    opened = await api.post("/v1/messages", json={"to": EMAIL, "body": "Bienvenue"})
    assert opened.status_code == 202, opened.text
    cid, contact = opened.json()["conversation_id"], opened.json()["contact_id"]
    await consent(api, contact, "grant")

    await write(api, "Merci", Channel.EMAIL)  # a reply to a message no campaign sent
    assert await bot_events(api, cid) == []

    await run_campaign(api, "Soldes-Hiver")  # names compare case aside
    await write(api, "Ça m'intéresse", Channel.EMAIL)
    events = await bot_events(api, cid)
    assert [kind for kind, _ in events] == ["FlowStarted", "QuestionAsked"]
    assert events[0][1]["trigger"] == "campaign_reply"
    assert events[0][1]["flow"] == "campaign-interest"
    assert (await said(api, cid))[-1]["body"].startswith("Souhaitez-vous qu'un conseiller")
    await write(api, "oui", Channel.EMAIL)
    assert [kind for kind, _ in await bot_events(api, cid)][-2:] == [
        "AnswerCollected",
        "FlowCompleted",
    ]
    await write(api, "Merci encore", Channel.EMAIL)  # the bot spoke last: no new start
    assert [k for k, _ in await bot_events(api, cid)].count("FlowStarted") == 1


async def test_another_campaign_does_not_start_it_but_a_star_does(
    api: httpx.AsyncClient,
) -> None:
    await publish(api, "campaign-interest", INTEREST)
    opened = await api.post("/v1/messages", json={"to": EMAIL, "body": "Bienvenue"})
    cid, contact = opened.json()["conversation_id"], opened.json()["contact_id"]
    await consent(api, contact, "grant")
    await run_campaign(api, "Black Friday")
    await write(api, "Intéressé", Channel.EMAIL)
    assert await bot_events(api, cid) == []

    await publish(api, "campaign-interest", INTEREST.replace("[soldes-hiver]", '"*"'))
    await run_campaign(api, "Noël")
    await write(api, "Intéressé aussi", Channel.EMAIL)
    assert (await bot_events(api, cid))[0][1]["trigger"] == "campaign_reply"
