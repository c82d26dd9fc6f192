"""The SMS-pumping guard and the inbound-flood rule through the API: a burst to one number
prefix blocks it (``destination_cap``) until an admin lifts it, other prefixes going on;
a country the brand did not allow is blocked; the hourly cap on numbers that never wrote
back; a consumer who floods is recorded but not answered; the read model rebuilds the
same."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chainon.domain.channels import Channel
from chainon.projections.catalogue import all_projections
from chainon.projections.rebuild import verify
from chainon.runtime import Runtime
from tests.e2e.test_api import inbound

pytestmark = pytest.mark.asyncio

START = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()
        self.started = time.monotonic()

    def __call__(self) -> datetime:
        return START + self.offset + timedelta(seconds=time.monotonic() - self.started)


@pytest.fixture
def clock(sqlite_runtime: Runtime) -> Clock:
    found = Clock()
    sqlite_runtime.core.clock = found
    return found


async def send(api: httpx.AsyncClient, runtime: Runtime, to: str) -> dict[str, Any]:
    response = await api.post("/v1/messages", json={"to": to, "body": "Votre code : 1234"})
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    if answer.get("position"):
        assert await runtime.caught_up(answer["position"])
    return answer


async def limits(api: httpx.AsyncClient, **document: Any) -> None:
    response = await api.put("/v1/sending/limits", json=document)
    assert response.status_code == 200, response.text


def all_verified(runtime: Runtime) -> None:
    """What ``chainon projections verify all`` checks: each read model rebuilt the same."""
    for projection in all_projections():
        assert verify(runtime.views, projection.name) == [], projection.name


async def test_a_burst_to_one_prefix_is_blocked_until_an_admin_lifts_it(
    api: httpx.AsyncClient, sqlite_runtime: Runtime, clock: Clock
) -> None:
    await limits(api, prefix_burst=5, prefix_burst_factor=2)
    for i in range(5):
        answer = await send(api, sqlite_runtime, f"+336123450{i:02d}")
        assert answer["status"] == "queued", (i, answer)
    answer = await send(api, sqlite_runtime, "+33612345099")
    assert (answer["status"], answer["reason"]) == ("blocked", "destination_cap")
    again = await send(api, sqlite_runtime, "+33612345098")  # the prefix stays blocked
    assert (again["status"], again["reason"]) == ("blocked", "destination_cap")
    other = await send(api, sqlite_runtime, "+33698765401")
    assert other["status"] == "queued"

    blocks = (await api.get("/v1/sending/blocks")).json()
    assert [(b["prefix"], b["reason"], b["sends"]) for b in blocks["blocks"]] == [
        ("+3361234", "destination_cap", 6)
    ]
    lifted = await api.delete("/v1/sending/blocks/+3361234")
    assert lifted.status_code == 200, lifted.text
    assert (await api.delete("/v1/sending/blocks/+3361234")).status_code == 404
    short = await api.delete("/v1/sending/blocks/0")  # found by schemathesis: once a 500
    assert (short.status_code, short.json()["field"]) == (422, "prefix")
    after = (await api.get("/v1/sending/blocks")).json()
    assert after["blocks"] == []
    assert [lift["prefix"] for lift in after["lifted"]] == ["+3361234"]
    assert after["lifted"][0]["by"].startswith("api_key:")

    resumed = await send(api, sqlite_runtime, "+33612345097")
    assert resumed["status"] == "queued"
    all_verified(sqlite_runtime)


async def test_a_country_outside_the_allowed_list_is_blocked(
    api: httpx.AsyncClient, sqlite_runtime: Runtime, clock: Clock
) -> None:
    shown = (await api.get("/v1/sending/limits")).json()
    assert shown["allowed_countries"] == ["FR", "US"]  # the brand's own FR sender, FR, US
    uk = await send(api, sqlite_runtime, "+447812345678")
    assert (uk["status"], uk["reason"]) == ("blocked", "destination_cap")
    assert (await send(api, sqlite_runtime, "+12015550123"))["status"] == "queued"
    await limits(api, allowed_countries=["FR", "GB"])
    assert (await send(api, sqlite_runtime, "+447812345679"))["status"] == "queued"
    us = await send(api, sqlite_runtime, "+12015550124")  # no longer in the list
    assert (us["status"], us["reason"]) == ("blocked", "destination_cap")
    email = await api.post("/v1/messages", json={"to": "ana@example.org", "body": "Bonjour"})
    assert email.json()["status"] == "queued"  # email is not pumped
    bad = await api.put("/v1/sending/limits", json={"allowed_countries": ["france"]})
    assert bad.status_code == 422
    assert "allowed_countries" in bad.text


async def test_the_hourly_cap_on_numbers_that_never_replied(
    api: httpx.AsyncClient, sqlite_runtime: Runtime, clock: Clock
) -> None:
    opened = await inbound(api, "Bonjour", sender="+33677777777")
    assert await sqlite_runtime.caught_up(opened["position"])
    await limits(api, never_replied_per_hour=3)
    for i in range(3):  # distinct prefixes: no burst
        assert (await send(api, sqlite_runtime, f"+3361{i}000001"))["status"] == "queued"
    capped = await send(api, sqlite_runtime, "+33650000001")
    assert (capped["status"], capped["reason"]) == ("blocked", "destination_cap")
    replied = await send(api, sqlite_runtime, "+33677777777")  # wrote to the brand: counts not
    assert replied["status"] == "queued"
    clock.offset = timedelta(hours=1)  # a new hour
    assert (await send(api, sqlite_runtime, "+33650000002"))["status"] == "queued"
    all_verified(sqlite_runtime)


async def test_a_flooding_consumer_is_recorded_but_not_answered(
    api: httpx.AsyncClient, sqlite_runtime: Runtime, clock: Clock
) -> None:
    sender = "+33611111111"
    for _ in range(15):
        last = await inbound(api, "HELP", sender=sender)
    conversation = (await api.get(f"/v1/conversations/{last['conversation_id']}")).json()
    received = [m for m in conversation["messages"] if m["direction"] == "inbound"]
    answers = [m for m in conversation["messages"] if m["direction"] == "outbound"]
    assert len(received) == 15
    assert len(answers) == 10  # the default: more than 10 a minute gets no answer

    clock.offset = timedelta(minutes=2)
    await inbound(api, "HELP", sender=sender)
    conversation = (await api.get(f"/v1/conversations/{last['conversation_id']}")).json()
    answers = [m for m in conversation["messages"] if m["direction"] == "outbound"]
    assert len(answers) == 11
    assert sqlite_runtime.provider.sent_on(Channel.SMS)  # the answers went out
