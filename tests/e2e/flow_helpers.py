"""What the flow tests share: a brand on SMS, RCS and email, the consumer's side through
the sandbox, and reads of what the bot said and recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from chainon.api.app import create_app
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import ROOT, BrandWithKey

FLOWS = ROOT / "examples" / "flows"
YAML = {"Content-Type": "application/yaml"}
PHONE = "+33612345678"
EMAIL = "lea@example.org"
SMS = "+33939000001"
RCS_AGENT = "maison-rcs-agent"
BRAND_EMAIL = "bonjour@maison-bot.example"
TUESDAY_MORNING = datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
TO = {Channel.SMS: SMS, Channel.RCS: RCS_AGENT, Channel.EMAIL: BRAND_EMAIL}
FROM = {Channel.SMS: PHONE, Channel.RCS: PHONE, Channel.EMAIL: EMAIL}


def example(name: str) -> str:
    return (FLOWS / f"{name}.yaml").read_text()


def register_bot_brand(runtime: Runtime) -> BrandWithKey:
    core = runtime.core
    brand = core.register_brand(
        slug="maison-bot",
        name="Maison Bot",
        senders=[(Channel.RCS, RCS_AGENT), (Channel.SMS, SMS), (Channel.EMAIL, BRAND_EMAIL)],
    )
    return BrandWithKey(brand, core.api_keys.issue(brand.id, "tests"))


def clock_from(runtime: Runtime, start: datetime) -> None:
    """The core's clock runs from ``start``: answers about dates are the same every day."""
    began = time.monotonic()
    runtime.core.clock = lambda: start + timedelta(seconds=time.monotonic() - began)


async def client(runtime: Runtime, key: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
    ) as api:
        yield api


async def publish(api: httpx.AsyncClient, name: str, source: str | None = None) -> int:
    answer = await api.put(f"/v1/flows/{name}", content=source or example(name), headers=YAML)
    assert answer.status_code in (200, 201), answer.text
    version: int = answer.json()["version"]
    return version


async def write(
    api: httpx.AsyncClient, body: str, channel: Channel = Channel.SMS, **extra: Any
) -> dict[str, Any]:
    payload = {"from": FROM[channel], "to": TO[channel], "body": body, "channel": channel}
    answer = await api.post("/v1/sandbox/inbound", json={**payload, **extra})
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def conversation(api: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/conversations/{cid}", params={"order": "oldest", "limit": 200})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def said(api: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    """The brand's messages in the conversation, oldest first."""
    messages = (await conversation(api, cid))["messages"]
    return [m for m in messages if m["direction"] == "outbound"]


async def bot_events(api: httpx.AsyncClient, cid: str) -> list[tuple[str, dict[str, Any]]]:
    timeline = (await conversation(api, cid))["timeline"]
    bot = {
        "FlowStarted", "QuestionAsked", "AnswerCollected", "AnswerRejected", "HandedOff",
        "FlowCompleted", "FlowTimedOut", "FlowStopped",
    }  # fmt: skip
    return [(e["event"], e["detail"]) for e in timeline if e["event"] in bot]


async def profile(api: httpx.AsyncClient, contact: str) -> dict[str, Any]:
    for _ in range(200):  # the views catch up with the core
        answer = await api.get(f"/v1/contacts/{contact}/profile")
        if answer.status_code == 200:
            found: dict[str, Any] = answer.json()
            return found
        await asyncio.sleep(0.025)
    raise AssertionError(f"no profile for {contact}")


async def queued(
    api: httpx.AsyncClient, team: str | None, *, settle: bool = False
) -> list[dict[str, Any]]:
    """The queue's items (of ``team``), once the views have caught up with the last write."""
    params = {"team": team} if team else {}
    for _ in range(200):
        items: list[dict[str, Any]] = (await api.get("/v1/queue", params=params)).json()["items"]
        if items or settle:
            return items
        await asyncio.sleep(0.025)
    return []
