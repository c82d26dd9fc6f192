"""Routing rules through the API: the document checked and recorded with who set it, and a
bot's hand-off going to the team the first rule that holds picks, in that team's queue; the
language detected in the consumer's messages routes, and a flow speaks it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey
from tests.e2e.flow_helpers import (
    TUESDAY_MORNING,
    bot_events,
    client,
    clock_from,
    conversation,
    publish,
    queued,
    register_bot_brand,
    said,
    write,
)

pytestmark = pytest.mark.asyncio

RULES = {
    "rules": [
        {"name": "unhappy", "when": {"flow": ["csat"], "outcome": ["step"]}, "team": "quality",
         "priority": "urgent"},
        {"when": {"language": ["en"]}, "team": "english"},
        {"when": {"keywords": ["remboursement"], "sender": ["+336*"]}, "team": "refunds"},
    ],
    "default": {"team": "desk"},
}  # fmt: skip


@pytest.fixture
def brand(sqlite_runtime: Runtime) -> BrandWithKey:
    clock_from(sqlite_runtime, TUESDAY_MORNING)
    return register_bot_brand(sqlite_runtime)


@pytest.fixture
async def api(sqlite_runtime: Runtime, brand: BrandWithKey) -> AsyncIterator[httpx.AsyncClient]:
    async for each in client(sqlite_runtime, brand.key):
        yield each


async def test_the_document_is_checked_recorded_and_shown(api: httpx.AsyncClient) -> None:
    empty = (await api.get("/v1/routing")).json()
    assert empty == {"routing": {"rules": [], "default": None}, "history": []}
    bad = {"rules": [{"team": "a"}, {"team": "b"}, {"team": "Not a team!"}]}
    refused = await api.put("/v1/routing", json=bad)
    assert refused.status_code == 422
    assert refused.json()["field"] == "rules[2].team"
    unknown = await api.put("/v1/routing", json={"rules": [{"team": "a", "when": {"mood": 1}}]})
    assert unknown.json()["field"] == "rules[0].when.mood"

    answer = await api.put("/v1/routing", json=RULES)
    assert answer.status_code == 200, answer.text
    assert answer.json()["changed"] is True
    again = await api.put("/v1/routing", json=RULES)
    assert again.json()["changed"] is False
    shown = (await api.get("/v1/routing")).json()
    assert shown["routing"]["rules"][0]["team"] == "quality"
    assert shown["routing"]["default"] == {"team": "desk", "priority": "normal"}
    (change,) = shown["history"]
    assert change["by"].startswith("api_key:")  # who set it
    assert change["rules"]["rules"][2]["when"]["keywords"] == ["remboursement"]


async def test_a_hand_off_goes_to_the_team_the_rules_pick(api: httpx.AsyncClient) -> None:
    assert (await api.put("/v1/routing", json=RULES)).status_code == 200
    await publish(api, "csat")
    cid = (await write(api, "Bonjour, ma commande est en retard"))["conversation_id"]
    assert (await api.post(f"/v1/conversations/{cid}/flow", json={"flow": "csat"})).is_success
    await write(api, "1")
    await write(api, "Personne ne m'a répondu.")
    handed = (await bot_events(api, cid))[-1]
    assert handed[0] == "HandedOff"
    assert (handed[1]["team"], handed[1]["priority"]) == ("quality", "urgent")  # not "care"
    (item,) = await queued(api, "quality")
    assert item["id"] == cid
    assert item["priority"] == 3
    assert item["handoff"]["summary"] == "CSAT 1/5 : Personne ne m'a répondu."
    assert await queued(api, "care", settle=True) == []
    assert (await conversation(api, cid))["team"] == "quality"


async def test_the_language_and_keywords_the_consumer_wrote_route_too(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.put("/v1/routing", json=RULES)).status_code == 200
    await publish(api, "delivery-details")
    english = await write(api, "Hello, I want to know where my delivery is", Channel.EMAIL)
    cid = english["conversation_id"]
    await api.post(f"/v1/conversations/{cid}/flow", json={"flow": "delivery-details"})
    await write(api, "AGENT", Channel.EMAIL)  # a person, at once
    assert (await bot_events(api, cid))[-1][1]["reason"] == "keyword"
    assert [i["id"] for i in await queued(api, "english")] == [cid]

    french = await write(api, "Je veux un remboursement")
    cid2 = french["conversation_id"]
    await api.post(f"/v1/conversations/{cid2}/flow", json={"flow": "delivery-details"})
    await write(api, "CONSEILLER")
    assert (await conversation(api, cid2))["team"] == "refunds"


async def test_a_flow_speaks_the_language_the_consumer_writes_in(api: httpx.AsyncClient) -> None:
    await publish(api, "appointment-booking")
    english = await write(api, "Hello, I would like to book an appointment please")
    cid = english["conversation_id"]
    await api.post(f"/v1/conversations/{cid}/flow", json={"flow": "appointment-booking"})
    assert (await bot_events(api, cid))[0][1]["language"] == "en"
    assert (await said(api, cid))[-1]["body"].startswith("When would you like to come?")

    french = await write(api, "RDV", Channel.EMAIL)  # a keyword alone tells nothing
    events = await bot_events(api, french["conversation_id"])
    assert events[0][1]["language"] == "fr"
