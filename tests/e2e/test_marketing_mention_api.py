"""A marketing SMS carries its country's opt-out mention, or the brand lets Chainon append
it (segments counted after appending, and shown before and after); without either the
send is refused (422) naming the rule."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_api import assert_problem, inbound
from tests.e2e.test_keywords_inbound import within_marketing_hours  # noqa: F401

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("to", "body"),
    [
        ("+33612345678", "Soldes -30 % ce week-end !"),
        ("+12125550123", "Sale: 30% off this weekend! STOP au 0939000001"),  # not the US one
    ],
)
async def test_a_marketing_sms_without_its_mention_is_refused_naming_the_rule(
    api: httpx.AsyncClient, to: str, body: str
) -> None:
    send = {"to": to, "body": body, "purpose": "marketing"}
    problem = assert_problem(await api.post("/v1/messages", json=send), 422, "body")
    assert "opt-out mention" in problem["detail"]
    service = await api.post("/v1/messages", json={**send, "purpose": "service"})
    assert service.status_code == 202  # the rule is marketing's only


async def test_a_mention_in_the_body_passes(api: httpx.AsyncClient) -> None:
    for to, body in (
        ("+33612345678", "Soldes ! STOP SMS"),
        ("+12125550123", "Sale this weekend. Reply STOP to opt out"),
    ):
        sent = await api.post("/v1/messages", json={"to": to, "body": body, "purpose": "marketing"})
        assert sent.status_code == 202, sent.text
        assert sent.json()["segments_before_mention"] is None
        assert sent.json()["cost_before_mention"] is None


async def test_a_brand_that_lets_chainon_append_sees_the_segments_before_and_after(
    api: httpx.AsyncClient,
) -> None:
    opened = await inbound(api, "Bonjour")
    change = {"action": "grant", "purpose": "marketing"}
    await api.post(f"/v1/contacts/{opened['contact_id']}/consent", json=change)
    setting = await api.put("/v1/consent/settings", json={"append_opt_out_mention": True})
    assert setting.status_code == 200, setting.text
    body = "Soldes -30 % ce week-end sur toute la boutique. " * 3  # 150 characters: 1 segment
    sent = await api.post(
        "/v1/messages", json={"to": "06 12 34 56 78", "body": body, "purpose": "marketing"}
    )
    assert sent.status_code == 202, sent.text
    answer = sent.json()
    assert (answer["status"], answer["segments_before_mention"], answer["segments"]) == (
        "queued",
        1,
        2,
    )
    # at the analytics' price of an SMS to France (0.045 EUR a segment), before and after
    assert (answer["cost_before_mention"], answer["cost"], answer["currency"]) == (
        "0.045",
        "0.090",
        "EUR",
    )
    conversation = (await api.get(f"/v1/conversations/{answer['conversation_id']}")).json()
    (message,) = [m for m in conversation["messages"] if m["id"] == answer["message_id"]]
    assert message["body"].endswith("STOP au 0939000001")
    assert message["segments"] == 2
