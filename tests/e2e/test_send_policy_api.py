"""Every send asks the policy in the decision that queues it: marketing needs an opt-in and
stops at an opt-out on any channel, a reply to a contact who wrote is always theirs, and a
blocked send is an answer (with its reason), kept in the timeline, never dispatched."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.e2e.test_api import assert_problem, inbound, wait_for_status

pytestmark = pytest.mark.asyncio

PHONE = "+33612345678"
EMAIL = "camille@example.org"
PROMO = "Soldes -30 % ce week-end ! STOP au 0939000001"


async def send(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/messages", json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def consent(api: httpx.AsyncClient, contact: str, action: str, **more: str) -> None:
    change = {"action": action, "purpose": "marketing", **more}
    response = await api.post(f"/v1/contacts/{contact}/consent", json=change)
    assert response.status_code == 200, response.text


async def message_in(api: httpx.AsyncClient, answer: dict[str, Any]) -> dict[str, Any]:
    conversation = (await api.get(f"/v1/conversations/{answer['conversation_id']}")).json()
    found: dict[str, Any] = next(
        m for m in conversation["messages"] if m["id"] == answer["message_id"]
    )
    blocked = [e for e in conversation["timeline"] if e["event"] == "MessageBlocked"]
    found["timeline"] = blocked
    return found


async def test_marketing_without_an_opt_in_is_blocked_with_its_reason(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    answer = await send(api, to=EMAIL, body="Nos nouveautés", purpose="marketing")
    assert (answer["status"], answer["reason"]) == ("blocked", "no_marketing_consent")
    assert (answer["cost"], answer["currency"]) == (None, None)  # a blocked send costs nothing
    message = await message_in(api, answer)
    assert (message["status"], message["reason"]) == ("blocked", "no_marketing_consent")
    assert [h["status"] for h in message["history"]] == ["blocked"]
    assert message["timeline"][0]["detail"]["reason"] == "no_marketing_consent"
    await asyncio.sleep(0.3)  # the relay and the dispatcher had their chance
    assert sqlite_runtime.provider.sent_on(Channel.EMAIL) == []


async def test_an_opted_out_contact_gets_no_marketing_on_any_channel_but_still_replies(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    opened = await inbound(api, "Bonjour, ma commande ?", sender=PHONE)
    contact, cid = opened["contact_id"], opened["conversation_id"]
    added = await api.post(f"/v1/contacts/{contact}/addresses", json={"address": EMAIL})
    assert added.status_code == 200, added.text
    await consent(api, contact, "grant")
    allowed = await send(api, to=EMAIL, body="Nos nouveautés", purpose="marketing")
    assert allowed["status"] == "queued"
    assert (allowed["cost"], allowed["currency"]) == ("0", "EUR")  # an email's price
    await consent(api, contact, "revoke", channel="rcs")  # one channel only...
    still = await send(api, to=EMAIL, body="Encore", purpose="marketing")
    assert still["status"] == "queued"
    await consent(api, contact, "revoke")  # ...then the brand-wide opt-out

    for to in (PHONE, EMAIL):
        answer = await send(api, to=to, body=PROMO, purpose="marketing")
        assert (answer["status"], answer["reason"]) == ("blocked", "opted_out"), to
    service = await send(api, to=PHONE, body="Votre colis est parti", purpose="service")
    assert service["status"] == "queued"
    reply = await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Demain !"})
    assert reply.json()["status"] == "queued"
    await wait_for_status(api, cid, reply.json()["message_id"], "delivered")
    await asyncio.sleep(0.3)
    bodies = [m.body for m in sqlite_runtime.provider.sent_on(Channel.SMS)]
    assert PROMO not in bodies
    assert "Demain !" in bodies
    assert [m.body for m in sqlite_runtime.provider.sent_on(Channel.EMAIL)] == [
        "Nos nouveautés",
        "Encore",
    ]


async def test_a_conversational_message_needs_the_contact_to_have_written(
    api: httpx.AsyncClient,
) -> None:
    notice = await send(api, to="+33612345600", body="Votre colis est parti")
    cid = notice["conversation_id"]
    reply = await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Ça va ?"})
    assert reply.status_code == 202
    assert (reply.json()["status"], reply.json()["reason"]) == ("blocked", "not_conversational")
    answered = await inbound(api, "Merci !", sender="+33612345600")
    assert answered["conversation_id"] == cid
    again = await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Avec plaisir"})
    assert again.json()["status"] == "queued"


async def test_marketing_quiet_until_after_its_not_after_is_blocked_and_before_it_deferred(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    opened = await inbound(api, "Bonjour", sender=PHONE)
    await consent(api, opened["contact_id"], "grant")
    # Saturday 21:00 in Paris: marketing waits for Monday 08:00 (07:00 UTC)
    sqlite_runtime.core.clock = lambda: datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    late = await send(
        api, to=PHONE, body=PROMO, purpose="marketing", not_after="2026-12-06T12:00:00+01:00"
    )
    assert (late["status"], late["reason"]) == ("blocked", "quiet_hours_past_deadline")
    assert (await message_in(api, late))["reason"] == "quiet_hours_past_deadline"
    in_time = await send(
        api, to=PHONE, body=PROMO, purpose="marketing", not_after="2026-12-07T09:00:00+01:00"
    )
    assert (in_time["status"], in_time["release_at"]) == ("deferred", "2026-12-07T07:00:00Z")
    naive = await api.post(
        "/v1/messages",
        json={"to": PHONE, "body": PROMO, "purpose": "marketing", "not_after": "2026-12-06T12:00"},
    )
    assert_problem(naive, 422, "not_after")
