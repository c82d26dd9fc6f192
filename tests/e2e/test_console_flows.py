"""The console's conversation page, its live queue and the phone simulator, over HTTP."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from chainon.console.session import COOKIE
from chainon.domain import commands as cmd
from chainon.domain.attachments import Attachment
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey
from tests.e2e.console_client import CONSUMER, consumer_writes, sign_in
from tests.e2e.flow_helpers import YAML, example
from tests.serving import serving


async def first_event(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
    """The first event of a stream, as its lines up to the blank line that ends it."""
    lines: list[str] = []
    async with client.stream("GET", url, headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line == "" and lines:
                return "\n".join(lines)
            if line:
                lines.append(line)
    raise AssertionError(f"the stream ended: {lines}")


async def test_the_queue_stream_sends_rows_and_resumes_from_last_event_id(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    await sign_in(browser, brand.key)
    cookie = {"Cookie": f"{COOKIE}={browser.cookies[COOKIE]}"}
    async with serving(sqlite_runtime) as served, httpx.AsyncClient(base_url=served.url) as http:
        snapshot = await asyncio.wait_for(first_event(http, "/console/queue/stream", cookie), 5)
        assert snapshot.startswith("event: queue\nid: ")
        assert "Nothing is waiting." in snapshot
        seen = snapshot.splitlines()[1].removeprefix("id: ")
        inbound = await consumer_writes(browser, brand.key, "Bonjour <b>")
        resumed = await asyncio.wait_for(
            first_event(http, "/console/queue/stream", {**cookie, "Last-Event-ID": seen}), 5
        )
        assert int(resumed.splitlines()[1].removeprefix("id: ")) > int(seen)
        assert f'data-conversation="{inbound["conversation_id"]}"' in resumed
        refused = await http.get("/console/queue/stream", headers={"Accept": "text/event-stream"})
        assert refused.status_code == 401  # no session: no redirect for an EventSource


async def test_a_blocked_send_and_a_fallback_show_with_their_reason(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    sqlite_runtime.core.add_sender(brand.id, Channel.RCS, "maison-lumiere_agent")
    await sign_in(browser, brand.key)
    auth = {"Authorization": f"Bearer {brand.key}"}
    promotion = await browser.post(
        "/v1/messages",
        json={
            "to": CONSUMER,
            "body": "Soldes ! STOP au 0939000001",
            "purpose": "marketing",
            "channel": "sms",
        },
        headers=auth,
    )
    assert promotion.json()["status"] == "blocked", promotion.text
    conversation = promotion.json()["conversation_id"]
    page = await browser.get(f"/console/conversations/{conversation}")
    assert f"Blocked: {promotion.json()['reason']}" in page.text
    await browser.put(
        f"/v1/sandbox/outcomes/{CONSUMER}",
        json={"outcome": "not_capable", "channel": "rcs"},
        headers=auth,
    )
    rich = {
        "text": "Demain ?",
        "suggestions": [{"kind": "reply", "text": "Oui", "postback_data": "y"}],
    }
    sent = await browser.post("/v1/messages", json={"to": CONSUMER, "rich": rich}, headers=auth)
    assert sent.json()["channel"] == "rcs", sent.text
    for _ in range(100):
        page = await browser.get(f"/console/conversations/{conversation}/timeline")
        if "Sent by SMS in place of the RCS message" in page.text:
            break
        await asyncio.sleep(0.05)
    assert "Sent by SMS in place of the RCS message" in page.text
    assert "RCS not_capable → SMS" in page.text
    assert '<li class="chip">Oui</li>' in page.text  # the RCS message's suggestion, as a chip


async def test_the_phone_plays_the_consumer_and_is_off_without_the_sandbox(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    token = await sign_in(browser, brand.key)
    sent = await browser.post(
        "/sandbox/phone/send",
        data={
            "csrf": token,
            "brand_number": f"sms:{BRAND_SMS}",
            "consumer": CONSUMER,
            "body": "STOP",
        },
    )
    assert sent.status_code == 303
    assert "error" not in sent.headers["location"]
    auth = {"Authorization": f"Bearer {brand.key}"}
    contact = await browser.get("/v1/contacts", params={"address": CONSUMER}, headers=auth)
    consent = await browser.get(f"/v1/contacts/{contact.json()['id']}/consent", headers=auth)
    assert "revoked" in consent.text, consent.text  # STOP from the phone is an opt-out
    phone = await browser.get(sent.headers["location"])
    assert '<li class="bubble mine"' in phone.text
    assert ">STOP</p>" in phone.text
    wrong = await browser.post(
        "/sandbox/phone/send",
        data={"csrf": token, "brand_number": "sms:+33100000000", "consumer": CONSUMER, "body": "x"},
    )
    assert "error=brand_number" in wrong.headers["location"]
    tapped_by_sms = await browser.post(
        "/v1/sandbox/inbound",
        json={"from": CONSUMER, "to": BRAND_SMS, "body": "1", "postback_data": "x"},
        headers={"Authorization": f"Bearer {brand.key}"},
    )
    assert tapped_by_sms.status_code == 422
    assert tapped_by_sms.json()["field"] == "postback_data"
    sqlite_runtime.settings.rbm_credentials_file = Path("rbm.json")  # RCS no longer sandboxed
    try:
        off = await browser.get("/sandbox/phone")
    finally:
        sqlite_runtime.settings.rbm_credentials_file = None
    assert off.status_code == 404
    assert off.headers["content-type"].startswith("text/html")
    assert "The phone simulator needs the sandbox provider." in off.text
    assert 'href="/sandbox/phone"' not in off.text  # nor offered in the menu
    sqlite_runtime.settings.rbm_credentials_file = Path("rbm.json")
    try:
        french = await browser.get("/sandbox/phone", headers={"Accept-Language": "fr"})
        sent_off = await browser.post(
            "/sandbox/phone/send",
            data={
                "csrf": token,
                "brand_number": f"sms:{BRAND_SMS}",
                "consumer": CONSUMER,
                "body": "x",
            },
        )
    finally:
        sqlite_runtime.settings.rbm_credentials_file = None
    assert "Le simulateur de téléphone demande le fournisseur sandbox." in french.text
    assert sent_off.status_code == 404
    assert "The phone simulator needs the sandbox provider." in sent_off.text


async def test_an_agent_assigns_tags_prioritizes_resolves_and_reopens(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    token = await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Bonjour")
    url = f"/console/conversations/{inbound['conversation_id']}"
    for action, data in (
        ("assign", {"assignee": "bob", "team": "billing"}),
        ("tags", {"add": "VIP"}),
        ("priority", {"priority": "3"}),
        ("resolve", {}),
    ):
        done = await browser.post(f"{url}/{action}", data={"csrf": token, **data})
        assert done.status_code == 303, (action, done.text)
    page = (await browser.get(url)).text
    assert 'id="assignee">bob<' in page
    assert "<strong>billing</strong>" in page
    assert '<span class="tag">vip</span>' in page
    assert "Priority: <strong>3</strong>" in page
    assert 'id="status">resolved<' in page
    twice = await browser.post(f"{url}/resolve", data={"csrf": token})
    assert twice.status_code == 422  # refused, and said on the page
    assert 'role="alert"' in twice.text
    reopened = await browser.post(f"{url}/reopen", data={"csrf": token})
    assert reopened.status_code == 303
    assert 'id="status">open<' in (await browser.get(url)).text
    too_high = await browser.post(f"{url}/priority", data={"csrf": token, "priority": "9"})
    assert too_high.status_code == 422
    assert "priority" in too_high.text


async def test_an_email_shows_its_subject_and_attachments(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    await sign_in(browser, brand.key)
    received = await sqlite_runtime.handle(
        cmd.ReceiveMessage(
            provider="sandbox",
            provider_message_id="mail-1",
            channel=Channel.EMAIL,
            sender="claire@example.com",
            recipient="bonjour@maison-lumiere.example",
            body="Voici la facture <b>en pièce jointe</b>.",
            subject="Facture n° 42",
            attachments=[
                Attachment(
                    filename="facture.pdf",
                    content_type="application/pdf",
                    size=1234,
                    sha256="0" * 64,
                )
            ],
            brand_id=brand.id,
        )
    )
    page = await browser.get(f"/console/conversations/{received.conversation_id}")
    assert "Subject: Facture n° 42" in page.text
    assert "facture.pdf (application/pdf, 1234 B)" in page.text
    assert "&lt;b&gt;en pièce jointe&lt;/b&gt;" in page.text


async def test_next_for_me_says_when_nothing_waits_or_the_agent_is_full(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    token = await sign_in(browser, brand.key)
    nothing = await browser.post("/console/next", data={"csrf": token}, follow_redirects=True)
    assert "Nothing to take." in nothing.text
    await consumer_writes(browser, brand.key, "Bonjour")
    full = await browser.put(
        "/v1/agents/alice", json={"capacity": 0}, headers={"Authorization": f"Bearer {brand.key}"}
    )
    assert full.status_code == 200, full.text
    refused = await browser.post("/console/next", data={"csrf": token}, follow_redirects=True)
    assert "You are at capacity: open conversations 0/0" in refused.text


async def test_a_polled_timeline_is_sent_again_only_when_it_changed(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Bonjour")
    url = f"/console/conversations/{inbound['conversation_id']}/timeline"
    first = await browser.get(url)
    seen = re.search(r'id="messages-seen" name="seen" value="([0-9a-f]+)"', first.text)
    assert seen, first.text
    same = await browser.get(url, params={"seen": seen.group(1)})
    assert same.status_code == 204
    await consumer_writes(browser, brand.key, "Vous êtes là ?")
    changed = await browser.get(url, params={"seen": seen.group(1)})
    assert changed.status_code == 200
    assert "Vous êtes là ?" in changed.text


async def test_a_breached_sla_is_said_in_words(
    browser: httpx.AsyncClient,
    brand: BrandWithKey,
    sqlite_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Bonjour")
    queue = await browser.get("/console")
    assert "is-breached" not in queue.text
    core = sqlite_runtime.core
    later = core.clock() + timedelta(hours=2)  # past the default first-response SLA
    monkeypatch.setattr(core, "clock", lambda: later)
    queue = await browser.get("/console")
    row = re.search(
        rf'<tr class="row is-breached" data-conversation="{inbound["conversation_id"]}">.*?</tr>',
        queue.text,
        re.DOTALL,
    )
    assert row, queue.text
    assert '<strong class="breached">SLA breached</strong>' in row.group(0)


async def test_a_deferred_promotion_says_until_when(
    browser: httpx.AsyncClient,
    brand: BrandWithKey,
    sqlite_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saturday_night = datetime(2026, 12, 5, 21, 0, tzinfo=ZoneInfo("Europe/Paris"))
    monkeypatch.setattr(sqlite_runtime.core, "clock", lambda: saturday_night)  # quiet hours
    await sign_in(browser, brand.key)
    welcome = await sqlite_runtime.handle(
        cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Bienvenue")
    )
    assert welcome.contact_id is not None
    await sqlite_runtime.handle(
        cmd.GrantConsent(
            brand_id=brand.id, contact_id=welcome.contact_id, purpose=Purpose.MARKETING
        )
    )
    promotion = await sqlite_runtime.handle(
        cmd.SendMessage(
            brand_id=brand.id,
            to=CONSUMER,
            body="Soldes ce week-end ! STOP au 0939000001",
            purpose=Purpose.MARKETING,
        )
    )
    assert promotion.status is not None
    assert promotion.status.value == "deferred"
    page = await browser.get(f"/console/conversations/{promotion.conversation_id}")
    assert "Deferred until 2026-12-07 07:00 UTC" in page.text  # Monday 08:00 in Paris


async def test_a_bots_hand_off_shows_what_it_collected(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    published = await browser.put(
        "/v1/flows/delivery-details",
        content=example("delivery-details"),
        headers={**YAML, "Authorization": f"Bearer {brand.key}"},
    )
    assert published.status_code == 201, published.text
    await sign_in(browser, brand.key)
    started = await consumer_writes(browser, brand.key, "livraison")
    url = f"/console/conversations/{started['conversation_id']}"
    assert "Handed over by the bot" not in (await browser.get(url)).text
    await consumer_writes(browser, brand.key, "oui")  # the address is right
    await consumer_writes(browser, brand.key, "Conseiller !")  # a person, now
    page = (await browser.get(url)).text
    assert "Handed over by the bot" in page
    assert "delivery-details (keyword) → delivery" in page
    assert re.search(r"<dt>[a-z_]+</dt><dd>[^<]+</dd>", page), "the collected answers"


async def test_the_phone_shows_an_sms_fallbacks_numbered_choices_and_the_console_the_choice(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    sqlite_runtime.core.add_sender(brand.id, Channel.RCS, "maison-lumiere_agent")
    token = await sign_in(browser, brand.key)
    auth = {"Authorization": f"Bearer {brand.key}"}
    await browser.put(
        f"/v1/sandbox/outcomes/{CONSUMER}",
        json={"outcome": "not_capable", "channel": "rcs"},
        headers=auth,
    )
    rich = {
        "text": "Livraison demain ?",
        "suggestions": [
            {"kind": "reply", "text": "Oui", "postback_data": "yes"},
            {"kind": "reply", "text": "Un autre jour", "postback_data": "later"},
        ],
    }
    sent = await browser.post("/v1/messages", json={"to": CONSUMER, "rich": rich}, headers=auth)
    conversation = sent.json()["conversation_id"]
    phone = {"brand_number": f"sms:{BRAND_SMS}", "consumer": CONSUMER}
    numbered = "Répondez 1 pour Oui, 2 pour Un autre jour"
    shown = ""
    for _ in range(100):
        shown = (await browser.get("/sandbox/phone/thread", params=phone)).text
        if numbered in shown:
            break
        await asyncio.sleep(0.05)
    bubble = re.search(r'<li class="bubble theirs"[^>]*data-channel="sms">(.*?)</li>', shown, re.S)
    assert bubble, shown
    assert f'<p class="body">Livraison demain ?\n{numbered}</p>' in bubble.group(1)
    assert 'class="chip"' not in shown  # an SMS has no chips to tap: the consumer types 2
    answered = await browser.post("/sandbox/phone/send", data={"csrf": token, **phone, "body": "2"})
    assert "error" not in answered.headers["location"]
    url = f"/console/conversations/{conversation}"
    page = (await browser.get(url)).text
    chosen = re.search(r'<li class="msg in.*?</li>', page, re.DOTALL)
    assert chosen, page
    assert '<p class="body">2</p>' in chosen.group(0)
    assert (
        '<p class="chosen">Chosen suggestion: <strong>Un autre jour</strong></p>' in chosen.group(0)
    )
    french = (await browser.get(url, headers={"Accept-Language": "fr"})).text
    assert "Suggestion choisie: <strong>Un autre jour</strong>" in french
