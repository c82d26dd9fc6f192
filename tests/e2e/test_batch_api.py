"""POST /v1/messages/batch: one result per item in order, each item on its own, one group
commit for the batch, one Idempotency-Key for the whole of it."""

from __future__ import annotations

import httpx
import pytest

from chainon.observability import REGISTRY
from tests.e2e.test_api import assert_problem

pytestmark = pytest.mark.asyncio


def sent(status: str) -> float:
    """chainon_messages_total of outbound SMS with this status, as /metrics shows it."""
    labels = {"channel": "sms", "direction": "outbound", "status": status}
    return REGISTRY.get_sample_value("chainon_messages_total", labels) or 0.0


def numbers(count: int) -> list[str]:
    return [f"+336{10000000 + i:08d}" for i in range(count)]


async def test_each_item_is_answered_in_its_place_and_a_bad_one_fails_no_other(
    api: httpx.AsyncClient,
) -> None:
    messages = [
        {"to": "+33612345601", "body": "Votre colis arrive"},
        {"to": "not a number", "body": "x"},
        {"to": "+33612345602"},
        {"to": "+33612345603", "body": "x", "purpose": "promotion"},
        {"to": "+33612345604", "body": "Promo -20% STOP SMS", "purpose": "marketing"},
        {"to": "+33612345605", "body": "Votre rendez-vous", "colour": "red"},
        {"to": "+33612345606", "body": "Votre facture"},
    ]
    before = {status: sent(status) for status in ("queued", "blocked")}
    answer = await api.post("/v1/messages/batch", json={"messages": messages})
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert [r["index"] for r in out["results"]] == list(range(len(messages)))
    assert [r["ok"] for r in out["results"]] == [True, False, False, False, True, False, True]
    assert (out["accepted"], out["refused"]) == (3, 4)
    fields = [r["problem"]["field"] for r in out["results"] if not r["ok"]]
    assert fields == [
        "messages[1].to",
        "messages[2].body",
        "messages[3].purpose",
        "messages[5].colour",
    ]
    assert all(r["problem"]["status"] == 422 for r in out["results"] if not r["ok"])
    statuses = [r["result"]["status"] for r in out["results"] if r["ok"]]
    # marketing without an opt-in is an answer, not an error
    assert statuses == ["queued", "blocked", "queued"]
    assert out["results"][4]["result"]["reason"] == "no_marketing_consent"
    assert sent("queued") - before["queued"] == 2  # counted once per status and batch
    assert sent("blocked") - before["blocked"] == 1
    for ok in (r for r in out["results"] if r["ok"]):
        conversation = await api.get(f"/v1/conversations/{ok['result']['conversation_id']}")
        assert conversation.status_code == 200


async def test_a_thousand_messages_go_in_one_group_commit(api: httpx.AsyncClient) -> None:
    messages = [{"to": n, "body": "Votre colis arrive demain"} for n in numbers(1000)]
    out = (await api.post("/v1/messages/batch", json={"messages": messages})).json()
    assert out["accepted"] == 1000
    # one transaction: every item's effects reach the read models at the same position
    assert len({r["result"]["position"] for r in out["results"]}) == 1
    assert len({r["result"]["message_id"] for r in out["results"]}) == 1000


async def test_more_than_a_thousand_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    messages = [{"to": n, "body": "x"} for n in numbers(1001)]
    assert_problem(
        await api.post("/v1/messages/batch", json={"messages": messages}), 422, "messages"
    )
    assert_problem(await api.post("/v1/messages/batch", json={"messages": []}), 422, "messages")


async def test_one_idempotency_key_covers_the_whole_batch(api: httpx.AsyncClient) -> None:
    messages = [{"to": n, "body": "Votre colis"} for n in numbers(3)] + [
        {"to": "nope", "body": "x"}
    ]
    key = {"Idempotency-Key": "bulk-2026-12-03"}
    first = await api.post("/v1/messages/batch", json={"messages": messages}, headers=key)
    again = await api.post("/v1/messages/batch", json={"messages": messages}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    ids = [r["result"]["message_id"] for r in first.json()["results"] if r["ok"]]
    assert [r["result"]["message_id"] for r in again.json()["results"] if r["ok"]] == ids
    assert all(r["result"]["duplicate"] for r in again.json()["results"] if r["ok"])
    assert again.json()["results"][3]["problem"]["field"] == "messages[3].to"

    other = [{"to": n, "body": "Autre chose"} for n in numbers(3)]
    refused = await api.post("/v1/messages/batch", json={"messages": other}, headers=key)
    assert_problem(refused, 422, "Idempotency-Key")
