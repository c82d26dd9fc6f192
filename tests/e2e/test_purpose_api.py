"""Every outbound message says why it is sent: in the API's message, its timeline and the
analytics; a send defaults to service, a reply in a conversation to conversational."""

from __future__ import annotations

import httpx
import pytest

from chainon.domain import commands as cmd
from chainon.domain.consent import Purpose
from chainon.topic_records import COMMANDS, read
from tests.e2e.test_analytics_api import around_today, total
from tests.e2e.test_api import assert_problem, inbound

pytestmark = pytest.mark.asyncio


async def test_a_send_is_service_and_a_reply_conversational_unless_told(
    api: httpx.AsyncClient,
) -> None:
    sent = (await api.post("/v1/messages", json={"to": "+33612345670", "body": "Colis"})).json()
    opened = await inbound(api, "Bonjour, ma commande ?")
    cid = opened["conversation_id"]
    reply = (await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Demain"})).json()
    notice = {"body": "Votre colis est parti", "purpose": "service"}
    told = (await api.post(f"/v1/conversations/{cid}/messages", json=notice)).json()

    mine = (await api.get(f"/v1/conversations/{sent['conversation_id']}")).json()
    assert [m["purpose"] for m in mine["messages"]] == ["service"]
    conversation = (await api.get(f"/v1/conversations/{cid}?order=oldest")).json()
    purposes = {m["id"]: m["purpose"] for m in conversation["messages"]}
    assert purposes[reply["message_id"]] == "conversational"
    assert purposes[told["message_id"]] == "service"
    assert purposes[opened["message_id"]] is None  # inbound: no purpose of ours
    queued = [e for e in conversation["timeline"] if e["event"] == "MessageQueued"]
    assert [e["detail"]["purpose"] for e in queued] == ["conversational", "service"]

    days = (
        await api.get("/v1/analytics", params={**around_today(), "min_position": told["position"]})
    ).json()["days"]
    by_purpose: dict[str, int] = {}
    for day in days:
        for purpose, count in day["messages_out_by_purpose"].items():
            by_purpose[purpose] = by_purpose.get(purpose, 0) + count
    assert by_purpose == {"service": 2, "conversational": 1}
    assert total(days, "messages_out") == 3


async def test_an_unknown_purpose_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    payload = {"to": "+33612345670", "body": "x", "purpose": "promotion"}
    assert_problem(await api.post("/v1/messages", json=payload), 422, "purpose")


async def test_a_send_message_record_without_purpose_reads_as_service() -> None:
    """A brand's systems wrote SendMessage records on the commands topic before purposes."""
    brand = "6f1c1d2e-0000-4000-8000-000000000001"
    before = f'{{"type": "SendMessage", "brand_id": "{brand}", "to": "+33612345678", "body": "x"}}'
    old = read(COMMANDS, before.encode())
    assert isinstance(old, cmd.SendMessage)
    assert old.purpose is Purpose.SERVICE
    marketing = before.replace('"body"', '"purpose": "marketing", "body"')
    assert read(COMMANDS, marketing.encode()).purpose is Purpose.MARKETING
