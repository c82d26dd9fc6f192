"""The console's pages over HTTP: the session cookie, CSRF, the CSP, escaping, the counter.

The browser tests (test_console_browser.py) show the same pages working in Chromium;
these pin the rules a browser would not report: what the cookie is, what a request
without its token gets, what the counter says against what the reply then goes with.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chainon.api.app import create_app
from chainon.console.session import COOKIE
from chainon.runtime import Runtime
from domain import commands as cmd
from domain.attachments import Attachment
from domain.channels import Channel
from tests.conftest import BRAND_SMS, BrandWithKey
from tests.serving import serving

CONSUMER = "+33612345678"


@pytest.fixture
def smart_brand(sqlite_runtime: Runtime) -> BrandWithKey:
    core = sqlite_runtime.core
    brand = core.register_brand(
        slug="maison-lumiere",
        name="Maison Lumière",
        senders=[(Channel.SMS, BRAND_SMS), (Channel.EMAIL, "bonjour@maison-lumiere.example")],
        smart_encoding=True,
    )
    return BrandWithKey(brand, core.api_keys.issue(brand.id, "tests"))


@pytest.fixture
async def browser(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, on https (the session cookie is Secure)."""
    app = create_app(runtime=sqlite_runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://chainon.test"
    ) as client:
        yield client


def hidden_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, agent: str = "alice") -> str:
    """Signs in; returns the session's CSRF token, read from the queue page."""
    form = await client.get("/console/sign-in")
    answer = await client.post(
        "/console/sign-in",
        data={"api_key": key, "agent": agent, "csrf": hidden_csrf(form.text)},
    )
    assert answer.status_code == 303, answer.text
    queue = await client.get("/console")
    assert queue.status_code == 200
    return hidden_csrf(queue.text)


async def consumer_writes(client: httpx.AsyncClient, key: str, body: str) -> dict[str, Any]:
    answer = await client.post(
        "/v1/sandbox/inbound",
        json={"from": CONSUMER, "to": BRAND_SMS, "body": body},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_pages_need_a_session_and_send_a_strict_policy(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    answer = await browser.get("/console")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in"
    form = await browser.get("/console/sign-in")
    csp = form.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "<script>" not in form.text  # every script is a file: <script src=…>
    assert all(
        src.startswith("/console/static/") for src in re.findall(r'src="([^"]+)"', form.text)
    )
    for path in ("vendor/htmx.min.js", "vendor/htmx-ext-sse.min.js", "console.js"):
        static = await browser.get(f"/console/static/{path}")
        assert static.status_code == 200, path
        assert len(static.content) > 500, path


async def test_sign_in_sets_a_strict_http_only_cookie_without_the_key(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    form = await browser.get("/console/sign-in")
    answer = await browser.post(
        "/console/sign-in",
        data={"api_key": brand.key, "agent": "alice", "csrf": hidden_csrf(form.text)},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    attributes = cookie.lower()
    assert "httponly" in attributes
    assert "secure" in attributes
    assert "samesite=strict" in attributes
    assert brand.key not in cookie
    assert brand.key.split("_")[2] not in cookie
    queue = await browser.get("/console")
    assert "alice" in queue.text
    assert brand.key not in queue.text


async def test_sign_in_refuses_a_wrong_key_and_a_missing_token(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    form = await browser.get("/console/sign-in")
    token = hidden_csrf(form.text)
    wrong = await browser.post(
        "/console/sign-in", data={"api_key": "chn_000000000000_nope", "agent": "a", "csrf": token}
    )
    assert wrong.status_code == 401
    assert "This API key is not valid." in wrong.text
    forged = await browser.post(
        "/console/sign-in", data={"api_key": brand.key, "agent": "a", "csrf": "forged"}
    )
    assert forged.status_code == 403
    assert COOKIE not in forged.headers.get("set-cookie", "")


async def test_every_form_needs_the_session_token(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    token = await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Bonjour")
    conversation = inbound["conversation_id"]
    for path in (
        "/console/next",
        "/console/sign-out",
        f"/console/conversations/{conversation}/reply",
        f"/console/conversations/{conversation}/resolve",
        "/sandbox/phone/send",
    ):
        refused = await browser.post(path, data={"body": "x", "csrf": "forged"})
        assert refused.status_code == 403, path
        assert "csrf" in refused.text
    taken = await browser.post("/console/next", data={"csrf": token})
    assert taken.status_code == 303
    assert taken.headers["location"] == f"/console/conversations/{conversation}"
    page = await browser.get(taken.headers["location"])
    assert 'id="assignee">alice<' in page.text


async def test_a_consumers_script_is_shown_as_text(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "<script>alert(1)</script>")
    page = await browser.get(f"/console/conversations/{inbound['conversation_id']}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text


async def test_the_queue_lists_what_waits_and_the_filters_narrow_it(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Où est ma commande ?")
    queue = await browser.get("/console")
    assert f'data-conversation="{inbound["conversation_id"]}"' in queue.text
    assert CONSUMER in queue.text
    mine = await browser.get("/console", params={"mine": "true"})
    assert inbound["conversation_id"] not in mine.text  # nobody took it yet
    assert "Nothing is waiting." in mine.text
    team = await browser.get("/console", params={"team": "billing"})
    assert inbound["conversation_id"] not in team.text


async def test_the_console_speaks_french_when_asked(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    form = await browser.get("/console/sign-in", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert 'lang="fr"' in form.text
    assert "Se connecter" in form.text
    english = await browser.get("/console/sign-in", headers={"Accept-Language": "de, en;q=0.5"})
    assert "Sign in" in english.text
    chosen = await browser.get("/console/lang/fr")
    assert chosen.status_code == 303
    assert "Se connecter" in (await browser.get("/console/sign-in")).text


async def test_sign_out_ends_the_session(browser: httpx.AsyncClient, brand: BrandWithKey) -> None:
    token = await sign_in(browser, brand.key)
    out = await browser.post("/console/sign-out", data={"csrf": token})
    assert out.status_code == 303
    again = await browser.get("/console")
    assert again.status_code == 303
    assert again.headers["location"] == "/console/sign-in"


async def test_a_revoked_key_ends_the_session(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    await sign_in(browser, brand.key)
    key_id = brand.key.split("_")[1]
    sqlite_runtime.core.api_keys.revoke(brand.id, key_id)
    again = await browser.get("/console")
    assert again.status_code == 303


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("Prix : 10 € [promo]", "gsm7", 1),  # € [ ] are GSM-7 extension characters
        ("€" * 80 + "x", "gsm7", 2),  # 161 septets: two parts
        ("Merci 🙂", "ucs2", 1),
        ("🙂" * 36, "ucs2", 2),  # 72 UTF-16 units
        ("C’est noté, à demain " * 4, "gsm7", 1),  # the curly quote, smart-encoded
    ],
)
async def test_the_counter_and_the_sent_reply_agree(
    browser: httpx.AsyncClient,
    smart_brand: BrandWithKey,
    sqlite_runtime: Runtime,
    text: str,
    encoding: str,
    segments: int,
) -> None:
    token = await sign_in(browser, smart_brand.key)
    inbound = await consumer_writes(browser, smart_brand.key, "Bonjour")
    conversation = inbound["conversation_id"]
    counter = await browser.post(
        f"/console/conversations/{conversation}/count",
        data={"body": text},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert counter.status_code == 200, counter.text
    shown = dict(re.findall(r'data-(encoding|segments|channel)="([^"]*)"', counter.text))
    sent = await browser.post(
        f"/console/conversations/{conversation}/reply", data={"body": text, "csrf": token}
    )
    assert sent.status_code == 303, sent.text
    record = await browser.get(
        f"/v1/conversations/{conversation}",
        headers={"Authorization": f"Bearer {smart_brand.key}"},
    )
    message = record.json()["messages"][-1]
    assert (shown["encoding"], int(shown["segments"]), shown["channel"]) == (
        message["encoding"],
        message["segments"],
        message["channel"],
    )
    assert (message["encoding"], message["segments"]) == (encoding, segments)


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
    assert "sandbox" in off.json()["detail"]


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
