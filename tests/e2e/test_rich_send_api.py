"""Sending rich content over the HTTP API: the channel it went on, the field at fault in
a refused one, the brand's fallback deadline, and the sandbox's RCS controls."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest

from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import CONSUMER, BrandWithKey

AGENT = "maison-lumiere_api_agent"
QUESTION: dict[str, Any] = {
    "text": "Votre colis arrive demain. Ce créneau vous convient ?",
    "suggestions": [
        {"kind": "reply", "text": "Oui", "postback_data": "slot_ok"},
        {"kind": "reply", "text": "Non", "postback_data": "slot_change"},
    ],
}


@pytest.fixture
def with_rcs(sqlite_runtime: Runtime, brand: BrandWithKey) -> BrandWithKey:
    sqlite_runtime.core.add_sender(brand.id, Channel.RCS, AGENT)
    return brand


def problem(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    return response.status_code, body.get("field", "")


async def test_a_rich_message_goes_by_rcs_and_says_so(
    api: httpx.AsyncClient, with_rcs: BrandWithKey
) -> None:
    sent = await api.post("/v1/messages", json={"to": CONSUMER, "rich": QUESTION})
    assert sent.status_code == 202, sent.text
    assert sent.json()["channel"] == "rcs"


async def test_without_an_rcs_sender_rich_content_goes_as_sms_text_with_choices(
    api: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    sent = await api.post("/v1/messages", json={"to": CONSUMER, "rich": QUESTION})
    assert sent.status_code == 202, sent.text
    assert sent.json()["channel"] == "sms"
    cid = sent.json()["conversation_id"]
    for _ in range(200):
        if sqlite_runtime.provider.sent_on(Channel.SMS):
            break
        await asyncio.sleep(0.02)
    (sms,) = sqlite_runtime.provider.sent_on(Channel.SMS)
    assert sms.body.endswith("Répondez 1 pour Oui, 2 pour Non")
    shown = (await api.get(f"/v1/conversations/{cid}?order=oldest")).json()
    assert shown["messages"][0]["channel"] == "sms"


async def test_a_handset_without_rcs_is_told_in_the_sandbox_and_gets_the_sms(
    api: httpx.AsyncClient, with_rcs: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    told = await api.put(f"/v1/sandbox/outcomes/{CONSUMER}", json={"outcome": "not_capable"})
    assert told.status_code == 204, told.text
    sent = await api.post("/v1/messages", json={"to": CONSUMER, "rich": QUESTION})
    assert sent.json()["channel"] == "rcs"  # not known yet: RCS is tried first
    cid = sent.json()["conversation_id"]
    for _ in range(250):
        shown = (await api.get(f"/v1/conversations/{cid}?order=oldest")).json()
        if [m["status"] for m in shown["messages"]] == ["failed", "delivered"]:
            break
        await asyncio.sleep(0.02)
    assert [(m["channel"], m["status"]) for m in shown["messages"]] == [
        ("rcs", "failed"),
        ("sms", "delivered"),
    ]
    assert shown["messages"][0]["reason"] == "not_capable"
    rcs, sms = shown["messages"]
    assert rcs["rich"]["suggestions"][1]["postback_data"] == "slot_change"
    assert rcs["fallback"]["state"] == "triggered"
    assert rcs["fallback"]["reason"] == "not_capable"
    assert rcs["fallback"]["replacement_id"] == sms["id"]
    assert sms["fallback_of"] == rcs["id"]
    assert sms["fallback"] is None
    assert len(sqlite_runtime.provider.sent_on(Channel.RCS)) == 0
    assert len(sqlite_runtime.provider.sent_on(Channel.SMS)) == 1


@pytest.mark.parametrize(
    ("rich", "field"),
    [
        (
            {
                "text": "x",
                "suggestions": [{"kind": "reply", "text": "x" * 26, "postback_data": "p"}],
            },
            "rich.suggestions[0].text",
        ),
        (
            {"text": "x", "suggestions": [{"kind": "reply", "text": "Oui"}]},
            "rich.suggestions[0].postback_data",
        ),
        (
            {
                "text": "x",
                "suggestions": [
                    {
                        "kind": "action",
                        "text": "Voir",
                        "postback_data": "p",
                        "action": {"kind": "open_url", "url": "ftp://nope"},
                    }
                ],
            },
            "rich.suggestions[0].action.url",
        ),
        (
            {
                "carousel": [
                    {"title": "a", "media_url": "https://a.example/1.jpg", "media_height": "TALL"},
                    {"title": "b"},
                ],
                "card_width": "SMALL",
            },
            "rich.carousel[0].media_height",
        ),
        ({"text": "x", "colour": "red"}, "rich.colour"),
    ],
)
async def test_bad_rich_content_is_refused_naming_the_field(
    api: httpx.AsyncClient, with_rcs: BrandWithKey, rich: dict[str, Any], field: str
) -> None:
    refused = await api.post("/v1/messages", json={"to": CONSUMER, "rich": rich})
    assert problem(refused) == (422, field)


async def test_a_send_needs_a_body_or_rich_content(
    api: httpx.AsyncClient, with_rcs: BrandWithKey
) -> None:
    assert problem(await api.post("/v1/messages", json={"to": CONSUMER})) == (422, "body")


@pytest.mark.parametrize("seconds", [59, 86_401])
async def test_a_fallback_deadline_out_of_range_is_refused(
    api: httpx.AsyncClient, with_rcs: BrandWithKey, seconds: int
) -> None:
    body = {"to": CONSUMER, "rich": QUESTION, "fallback_after_seconds": seconds}
    assert problem(await api.post("/v1/messages", json=body)) == (422, "fallback_after_seconds")


async def test_a_message_deadline_is_kept_on_the_rcs_message(
    api: httpx.AsyncClient, with_rcs: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    body = {"to": CONSUMER, "body": "Votre code : 4821", "fallback_after_seconds": 90}
    sent = (await api.post("/v1/messages", json=body)).json()
    conversation = sqlite_runtime.core.conversation_of(with_rcs.id, UUID(sent["conversation_id"]))
    message = conversation.message(UUID(sent["message_id"]))
    assert message.fallback is not None
    assert (message.fallback.deadline - message.at).total_seconds() == 90


async def test_the_brand_sets_its_default_fallback_deadline(
    api: httpx.AsyncClient, with_rcs: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    put = await api.put("/v1/fallback/settings", json={"fallback_after_seconds": 120})
    assert put.status_code == 200, put.text
    assert put.json()["changed"] is True
    again = await api.put("/v1/fallback/settings", json={"fallback_after_seconds": 120})
    assert again.json()["changed"] is False
    brand = sqlite_runtime.core.get(Brand, with_rcs.id)
    assert brand.fallback_after.total_seconds() == 120
    refused = await api.put("/v1/fallback/settings", json={"fallback_after_seconds": 30})
    assert problem(refused) == (422, "fallback_after_seconds")


async def test_not_capable_is_refused_for_another_channel_than_rcs(
    api: httpx.AsyncClient, with_rcs: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    refused = await api.put(
        f"/v1/sandbox/outcomes/{CONSUMER}", json={"outcome": "not_capable", "channel": "sms"}
    )
    assert problem(refused) == (422, "channel")
    told = await api.put(
        "/v1/sandbox/outcomes/06 12 34 56 78", json={"outcome": "silent", "channel": "rcs"}
    )
    assert told.status_code == 204
    assert sqlite_runtime.provider.outcomes == {(with_rcs.id, Channel.RCS, CONSUMER): "silent"}


async def test_the_openapi_document_describes_rich_content(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    send = document["components"]["schemas"]["SendIn"]["properties"]
    assert {"rich", "fallback_after_seconds"} <= set(send)
    assert "RichContent" in document["components"]["schemas"]
    assert "/v1/fallback/settings" in document["paths"]
