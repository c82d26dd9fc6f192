"""The console's pages over HTTP: the session cookie, CSRF, the CSP, escaping, the counter.

The browser tests (test_console_browser.py) show the same pages working in Chromium;
these pin the rules a browser would not report: what the cookie is, what a request
without its token gets, what the counter says against what the reply then goes with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from chainon.api.app import create_app
from chainon.console.session import COOKIE
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey
from tests.e2e.console_client import CONSUMER, consumer_writes, hidden_csrf, sign_in


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
    secret = brand.key.split("_", 2)[2]  # chn_<hex id>_<secret>; the secret may hold "_"
    assert len(secret) == 32
    assert secret not in cookie
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


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """The app's routes, through the routers it included (FastAPI keeps each router as it
    was given, unprefixed here: the console's routers carry their own prefixes)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def console_posts(runtime: Runtime) -> list[str]:
    """Every POST route of the console and the phone, as the app serves them."""
    routes = list(api_routes(create_app(runtime=runtime).routes))
    mine = [r for r in routes if r.path.startswith(("/console", "/sandbox/phone"))]
    assert {m for r in mine for m in r.methods} <= {"GET", "POST"}  # no PUT, PATCH, DELETE
    return sorted(r.path for r in mine if "POST" in r.methods)


async def test_every_form_needs_the_session_token(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    token = await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Bonjour")
    conversation = inbound["conversation_id"]
    posts = console_posts(sqlite_runtime)
    assert len(posts) >= 11, posts  # sign-in, sign-out, next, count, 6 actions, the phone's
    fields = {
        "body": "x",
        "assignee": "mallory",
        "team": "t",
        "add": "forged",
        "priority": "3",
        "api_key": brand.key,
        "agent": "mallory",
        "brand_number": f"sms:{BRAND_SMS}",
        "consumer": CONSUMER,
    }
    for path in posts:
        url = path.format(conversation_id=conversation)
        for data, headers in (
            ({**fields, "csrf": "forged"}, {}),
            (fields, {"X-CSRF-Token": "forged"}),
        ):
            refused = await browser.post(url, data=data, headers=headers)
            # sign-in reads its token from the form only: without one, a 422 naming it
            expected = 422 if path == "/console/sign-in" and "csrf" not in data else 403
            assert refused.status_code == expected, (path, refused.status_code, refused.text)
            assert "csrf" in refused.text, path
    page = await browser.get(f"/console/conversations/{conversation}")  # still signed in
    assert page.status_code == 200
    assert 'id="assignee">unassigned<' in page.text  # nothing the forged forms asked was done
    assert 'id="status">open<' in page.text
    assert "forged" not in page.text
    assert 'class="msg out' not in page.text
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


async def test_only_mine_lists_the_agents_own_conversations(
    browser: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    token = await sign_in(browser, brand.key)
    taken = await consumer_writes(browser, brand.key, "Bonjour")
    claimed = await browser.post("/console/next", data={"csrf": token})
    assert claimed.headers["location"] == f"/console/conversations/{taken['conversation_id']}"
    other = await browser.post(
        "/v1/sandbox/inbound",
        json={"from": "+33612345679", "to": BRAND_SMS, "body": "Et moi ?"},
        headers={"Authorization": f"Bearer {brand.key}"},
    )
    given = f"/console/conversations/{other.json()['conversation_id']}/assign"
    assert (await browser.post(given, data={"csrf": token, "assignee": "bob"})).status_code == 303
    everyone = await browser.get("/console")
    assert everyone.text.count('<tr class="row') == 2
    mine = await browser.get("/console", params={"mine": "true"})
    rows = re.findall(r'<tr class="row[^"]*" data-conversation="([^"]+)">', mine.text)
    assert rows == [taken["conversation_id"]]  # alice's, not bob's
    assert 'id="mine" name="mine" type="checkbox" value="true" checked' in mine.text
    assert "&amp;mine=true" in mine.text  # and the live stream keeps the filter


@pytest.mark.parametrize(
    ("lang", "text", "said"),
    [
        ("en", "", "0 characters"),
        ("en", "A", "1 character · gsm7 · 1 segment "),
        ("en", "A" * 161, "161 characters · gsm7 · 2 segments "),
        ("fr", "", "0 caractère"),
        ("fr", "A", "1 caractère · gsm7 · 1 segment "),
        ("fr", "AB", "2 caractères · gsm7 · 1 segment "),
    ],
)
async def test_the_counter_says_one_and_many_in_each_language(
    browser: httpx.AsyncClient, brand: BrandWithKey, lang: str, text: str, said: str
) -> None:
    token = await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Bonjour")
    counter = await browser.post(
        f"/console/conversations/{inbound['conversation_id']}/count",
        data={"body": text},
        headers={"X-CSRF-Token": token, "Accept-Language": lang},
    )
    assert counter.status_code == 200
    assert said in " ".join(counter.text.split()) + " "


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
    message = record.json()["messages"][0]  # newest first
    assert (shown["encoding"], int(shown["segments"]), shown["channel"]) == (
        message["encoding"],
        message["segments"],
        message["channel"],
    )
    assert (message["encoding"], message["segments"]) == (encoding, segments)
