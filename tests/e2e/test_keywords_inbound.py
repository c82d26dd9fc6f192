"""Keywords and opt-out phrases through the real inbound path (the sandbox plays the
consumer): the words stay in the conversation, the ledger changes with them as evidence,
one confirmation goes out, and marketing stops on every channel."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chainon.api.app import create_app
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey
from tests.e2e.test_api import inbound

pytestmark = pytest.mark.asyncio

PHONE = "+33612345678"
AGENT = "maison-rcs-agent"
PROMO = "Soldes -30 % ! STOP au 0939000001"
TUESDAY_MORNING = datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture(autouse=True)
def within_marketing_hours(sqlite_runtime: Runtime) -> None:
    """The core's clock runs from a Tuesday at 10:00 in Paris: marketing is not held."""
    started = time.monotonic()
    sqlite_runtime.core.clock = lambda: (
        TUESDAY_MORNING + timedelta(seconds=time.monotonic() - started)
    )


async def opted_in(api: httpx.AsyncClient, body: str = "Bonjour", **extra: Any) -> dict[str, Any]:
    opened = await inbound(api, body, **extra)
    change = {"action": "grant", "purpose": "marketing"}
    granted = await api.post(f"/v1/contacts/{opened['contact_id']}/consent", json=change)
    assert granted.status_code == 200, granted.text
    return opened


async def outbound_of(api: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    conversation = (await api.get(f"/v1/conversations/{cid}")).json()
    return [m for m in conversation["messages"] if m["direction"] == "outbound"]


async def consent_of(api: httpx.AsyncClient, contact: str) -> dict[str, Any]:
    consent: dict[str, Any] = (await api.get(f"/v1/contacts/{contact}/consent")).json()
    return consent


async def promo(api: httpx.AsyncClient, to: str = PHONE) -> dict[str, Any]:
    answer = await api.post("/v1/messages", json={"to": to, "body": PROMO, "purpose": "marketing"})
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.mark.parametrize(
    ("words", "rule"),
    [
        ("STOP", "keyword.stop"),
        ("  Arrêt !", "keyword.arret"),
        ("stop sms", "keyword.stop_sms"),
        ("Unsubscribe.", "keyword.unsubscribe"),
        ("Désabonner", "keyword.desabonner"),
        ("Stop texting me", "en.phrase.stop_texting"),
    ],
)
async def test_an_opt_out_stops_marketing_with_one_confirmation(
    api: httpx.AsyncClient, words: str, rule: str
) -> None:
    first = await opted_in(api)
    cid = first["conversation_id"]
    assert (await promo(api))["status"] == "queued"
    stop = await inbound(api, words)
    assert stop["conversation_id"] == cid  # the words stay in their conversation
    again = await inbound(api, words)  # a repeated opt-out is not confirmed twice
    confirmations = [m for m in await outbound_of(api, cid) if m["body"] != PROMO]
    assert len(confirmations) == 1
    (confirmed,) = confirmations
    assert confirmed["purpose"] == "service"
    assert "désinscription" in confirmed["body"]  # French, the number's country
    assert (await promo(api))["reason"] == "opted_out"
    consent = await consent_of(api, first["contact_id"])
    last = consent["history"][-1]
    assert (last["granted"], last["channel"], last["purpose"]) == (False, None, "marketing")
    assert last["evidence"]["rule"] == rule
    assert last["evidence"]["text"] == words
    assert last["evidence"]["address"] == PHONE
    assert last["evidence"]["message_id"] == stop["message_id"]
    assert last["evidence"]["source"] == ("phrase" if ".phrase." in rule else "keyword")
    timeline = (await api.get(f"/v1/conversations/{cid}?order=oldest")).json()["timeline"]
    read = [e["detail"] for e in timeline if e["event"] == "ConsentRequestRead"]
    assert [(r["request"], r["rule"], r["message_id"]) for r in read][:1] == [
        ("opt_out", rule, stop["message_id"])
    ]
    assert again["message_id"] != stop["message_id"]


async def test_stop_all_stops_service_too_and_start_restores_both(
    api: httpx.AsyncClient,
) -> None:
    first = await opted_in(api)
    await inbound(api, "STOP ALL")
    service = await api.post("/v1/messages", json={"to": PHONE, "body": "Votre colis"})
    assert service.json()["reason"] == "opted_out_of_service"
    await inbound(api, "start")
    assert (await promo(api))["status"] == "queued"
    bodies = [m["body"] for m in await outbound_of(api, first["conversation_id"])]
    assert any("aucun message" in b for b in bodies)  # the STOPALL confirmation
    assert any("de nouveau inscrit" in b for b in bodies)  # the START one


async def test_help_answers_the_brands_help_text(api: httpx.AsyncClient) -> None:
    opened = await inbound(api, "AIDE")
    (answer,) = await outbound_of(api, opened["conversation_id"])
    assert answer["body"] == "Répondez STOP pour ne plus recevoir de messages."


@pytest.mark.parametrize("words", ["ne stoppez pas la livraison", "Can you stop by tomorrow?"])
async def test_a_sentence_with_stop_in_it_changes_nothing(
    api: httpx.AsyncClient, words: str
) -> None:
    first = await opted_in(api)
    await inbound(api, words)
    assert (await promo(api))["status"] == "queued"
    assert len((await consent_of(api, first["contact_id"]))["history"]) == 1


async def test_an_uncertain_reply_stops_marketing_and_flags_the_queue_without_a_word(
    api: httpx.AsyncClient,
) -> None:
    first = await opted_in(api)
    cid = first["conversation_id"]
    unsure = await inbound(api, "Stop, who is this?")
    assert (await promo(api))["reason"] == "opted_out"
    assert [m["body"] for m in await outbound_of(api, cid)] == [PROMO]  # blocked, no reply
    queue = (await api.get("/v1/queue", params={"min_position": unsure["position"]})).json()
    (row,) = [i for i in queue["items"] if i["id"] == cid]
    assert row["possible_opt_out"] == "loose.stop"
    evidence = (await consent_of(api, first["contact_id"]))["history"][-1]["evidence"]
    assert (evidence["uncertain"], evidence["rule"]) == (True, "loose.stop")


async def test_stop_on_rcs_blocks_the_next_sms_marketing(sqlite_runtime: Runtime) -> None:
    core = sqlite_runtime.core
    brand = core.register_brand(
        slug="maison-rcs", name="Maison", senders=[(Channel.RCS, AGENT), (Channel.SMS, BRAND_SMS)]
    )
    key = BrandWithKey(brand, core.api_keys.issue(brand.id, "tests"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=sqlite_runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key.key}"},
    ) as api:
        await opted_in(api)  # by SMS
        by_rcs = {"from": PHONE, "to": AGENT, "body": "STOP", "channel": "rcs"}
        stopped = await api.post("/v1/sandbox/inbound", json=by_rcs)
        assert stopped.status_code == 202, stopped.text
        sms = await api.post(
            "/v1/messages",
            json={"to": PHONE, "body": PROMO, "purpose": "marketing", "channel": "sms"},
        )
        assert (sms.json()["status"], sms.json()["reason"]) == ("blocked", "opted_out")
        consent = (await api.get(f"/v1/contacts/{stopped.json()['contact_id']}/consent")).json()
        assert consent["history"][-1]["evidence"]["channel"] == "rcs"
        assert consent["state"][0]["channels"] == {
            "sms": "revoked",
            "rcs": "revoked",
            "email": "revoked",
        }


async def test_an_email_reply_whose_first_line_is_stop_opts_out(
    api: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    mail = "camille@example.org"
    first = await opted_in(
        api, sender=mail, to=f"bonjour@{brand.brand.slug}.example", channel="email"
    )
    words = "STOP\n\nLe lun. 7 déc. 2026, Maison a écrit :\n> Nos soldes"
    await inbound(
        api, words, sender=mail, to=f"bonjour@{brand.brand.slug}.example", channel="email"
    )
    assert (await promo(api, to=mail))["reason"] == "opted_out"
    confirmations = [
        m for m in await outbound_of(api, first["conversation_id"]) if m["body"] != PROMO
    ]
    assert [m["channel"] for m in confirmations] == ["email"]
    blocked = [m for m in await outbound_of(api, first["conversation_id"]) if m["body"] == PROMO]
    assert [m["status"] for m in blocked] == ["blocked"]
