"""The console and the phone simulator in a real Chromium, driven by Playwright.

Debian's Chromium (``/usr/bin/chromium``, installed by ``make test``) runs headless
against Chainon on a real uvicorn server on 127.0.0.1. A missing browser fails these
tests: it never skips them. Screenshots of the queue, a conversation and the phone are
left in var/screenshots (``make screenshots`` copies them to docs/screenshots).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey, register
from tests.serving import serving

CHROMIUM = os.environ.get("CHAINON_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COUNTDOWN = re.compile(r"^\d+:\d\d$")
CONVERSATION_URL = re.compile(r"/console/conversations/[0-9a-f-]{36}$")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
AGENT = "maison-lumiere_rbm_agent"
CONSUMER = "+33612345678"
QUESTION: dict[str, Any] = {
    "card": {
        "title": "Votre colis arrive demain",
        "description": "Entre 9 h et 12 h. Ce créneau vous convient ?",
        "suggestions": [
            {"kind": "reply", "text": "Oui, parfait", "postback_data": "slot_ok"},
            {"kind": "reply", "text": "Un autre jour", "postback_data": "slot_change"},
        ],
    }
}


@dataclass(frozen=True)
class Console:
    url: str
    brand: BrandWithKey
    context: BrowserContext
    errors: list[str]  # what the pages wrote to the browser's console

    async def page(self) -> Page:
        page = await self.context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda message: self.errors.append(message.text))
        return page

    async def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.brand.key}"}
        )


def installed_chromium() -> str:
    """The browser's path; its absence fails the test, loudly: it never skips."""
    assert Path(CHROMIUM).is_file(), (
        f"{CHROMIUM} is missing: the console's browser tests need Debian's chromium "
        "(make test installs it: bash infra/chromium/chromium.sh install)"
    )
    return CHROMIUM


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    executable = installed_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def console(sqlite_runtime: Runtime, chromium: Browser) -> AsyncIterator[Console]:
    brand = register(sqlite_runtime)
    sqlite_runtime.core.add_sender(brand.id, Channel.RCS, AGENT)
    async with serving(sqlite_runtime) as served:
        context = await chromium.new_context(
            base_url=served.url, locale="en-GB", viewport={"width": 1280, "height": 900}
        )
        try:
            shown = Console(served.url, brand, context, [])
            yield shown
            refused = [e for e in shown.errors if "Content Security Policy" in e]
            assert refused == []  # the pages run nothing the policy forbids
        finally:
            await context.close()


async def sign_in(page: Page, key: str, agent: str = "alice") -> None:
    await page.goto("/console")
    await expect(page).to_have_url("/console/sign-in")
    await page.get_by_label("Brand API key").fill(key)
    await page.get_by_label("Your agent name").fill(agent)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url("/console")


async def open_phone(page: Page, brand_number: str) -> None:
    await page.goto("/sandbox/phone")
    await page.get_by_label("Brand number").select_option(brand_number)
    await page.get_by_label("Consumer number").fill(CONSUMER)
    await page.get_by_role("button", name="Open the phone").click()
    await expect(page.locator("#phone-body")).to_be_visible()


async def text_as_consumer(page: Page, body: str) -> None:
    await page.locator("#phone-body").fill(body)
    await page.locator("#phone-body").press("Enter")
    await expect(page.locator(".bubble.mine").filter(has_text=body).first).to_be_visible()


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / name), full_page=True)
    assert (SHOTS / name).stat().st_size > 1000


async def test_a_consumer_texts_the_agent_takes_it_answers_and_the_phone_gets_it(
    console: Console,
) -> None:
    agent = await console.page()
    await sign_in(agent, console.brand.key)
    phone = await console.page()
    await open_phone(phone, f"sms:{BRAND_SMS}")

    await agent.evaluate("window.stayed = true")  # gone if the page were loaded again
    await text_as_consumer(phone, "Bonjour, où en est ma commande ?")
    written = time.monotonic()
    row = agent.locator("#queue-rows tr[data-conversation]").filter(has_text=CONSUMER)
    await expect(row).to_be_visible(timeout=2_000)  # live, without a reload
    assert time.monotonic() - written < 2.0
    assert await agent.evaluate("window.stayed === true")
    await expect(row.locator("time.sla")).to_have_text(COUNTDOWN)  # console.js ticks
    await shot(agent, "console-queue.png")

    await agent.get_by_role("button", name="Next for me").click()
    await expect(agent).to_have_url(CONVERSATION_URL)
    await expect(agent.locator("#assignee")).to_have_text("alice")
    await expect(agent.locator(".msg.in .body")).to_have_text("Bonjour, où en est ma commande ?")

    answer = "Elle part demain matin, à bientôt !"
    await agent.get_by_label("Your reply").fill(answer)
    counter = agent.locator("#counter .count")
    await expect(counter).to_have_attribute("data-characters", str(len(answer)))
    await expect(counter).to_have_attribute("data-segments", "1")
    await expect(counter).to_have_attribute("data-channel", "sms")
    await agent.get_by_role("button", name="Send").click()

    await expect(phone.locator(".bubble.theirs").filter(has_text=answer)).to_be_visible()
    sent = agent.locator(".msg.out").filter(has_text=answer)
    await expect(sent).to_have_attribute("data-status", "delivered", timeout=8_000)
    await expect(sent.locator(".ticks")).to_contain_text("delivered")
    await expect(sent.locator(".cost")).to_have_text("1 segment · ucs2 · 0.045 EUR")
    await shot(agent, "console-conversation.png")


async def test_a_suggestion_tapped_on_the_phone_shows_in_the_console(console: Console) -> None:
    async with await console.api() as api:
        sent = await api.post("/v1/messages", json={"to": CONSUMER, "rich": QUESTION})
    assert sent.status_code == 202, sent.text
    assert sent.json()["channel"] == "rcs"
    conversation = sent.json()["conversation_id"]
    phone = await console.page()
    await sign_in(phone, console.brand.key)
    await open_phone(phone, f"rcs:{AGENT}")
    card = phone.locator(".bubble.theirs .card")
    await expect(card).to_contain_text("Votre colis arrive demain")
    await shot(phone, "phone.png")
    await card.get_by_role("button", name="Un autre jour").click()
    await expect(phone.locator(".bubble.mine").filter(has_text="Un autre jour")).to_be_visible()
    await phone.get_by_role("button", name="Send STOP").click()
    await expect(phone.locator(".bubble.mine p").last).to_have_text("STOP")

    agent = await console.page()
    await agent.goto(f"/console/conversations/{conversation}")
    await expect(agent.locator(".msg.out .card .chip")).to_have_text(
        ["Oui, parfait", "Un autre jour"]
    )
    chosen = agent.locator(".msg.in").filter(has_text="Un autre jour")
    await expect(chosen).to_have_attribute("data-channel", "rcs")
    await expect(chosen.locator(".chosen")).to_have_text("Chosen suggestion: Un autre jour")


async def test_a_consumers_script_is_text_and_never_runs(console: Console) -> None:
    dialogs: list[str] = []
    page = await console.page()
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, console.brand.key)
    await open_phone(page, f"sms:{BRAND_SMS}")
    await text_as_consumer(page, "<script>alert(1)</script>")
    await page.goto("/console")
    await page.locator("#queue-rows a").first.click()
    body = page.locator(".msg.in .body")
    await expect(body).to_have_text("<script>alert(1)</script>")
    await asyncio.sleep(0.5)
    assert dialogs == []
    assert await page.locator(".msg.in script").count() == 0


async def test_an_agent_replies_with_the_keyboard_alone(console: Console) -> None:
    page = await console.page()
    await sign_in(page, console.brand.key)
    async with await console.api() as api:
        inbound = await api.post(
            "/v1/sandbox/inbound", json={"from": CONSUMER, "to": BRAND_SMS, "body": "Allô ?"}
        )
    conversation = inbound.json()["conversation_id"]
    await page.goto(f"/console/conversations/{conversation}")
    for _ in range(60):
        if await page.evaluate("document.activeElement && document.activeElement.id") == (
            "reply-body"
        ):
            break
        await page.keyboard.press("Tab")
    else:
        raise AssertionError("Tab never reached the reply box")
    await page.keyboard.type("Oui, je suis là.")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "reply-send"
    await page.keyboard.press("Enter")
    await expect(page.locator(".msg.out").filter(has_text="Oui, je suis là.")).to_be_visible()
    await page.locator("#reply-body").focus()
    await page.keyboard.type("Et avec Ctrl+Entrée.")
    await page.keyboard.press("Control+Enter")
    await expect(page.locator(".msg.out").filter(has_text="Et avec Ctrl+Entrée.")).to_be_visible()


async def tab_to(page: Page, element_id: str) -> None:
    """Tabs from where the focus is until ``element_id`` has it, as a keyboard user would."""
    for _ in range(60):
        if await page.evaluate("document.activeElement && document.activeElement.id") == (
            element_id
        ):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


async def consumer_texts(console: Console, consumer: str, body: str) -> str:
    async with await console.api() as api:
        answer = await api.post(
            "/v1/sandbox/inbound", json={"from": consumer, "to": BRAND_SMS, "body": body}
        )
    assert answer.status_code == 202, answer.text
    conversation: str = answer.json()["conversation_id"]
    return conversation


async def test_a_live_queue_update_keeps_the_keyboards_place(console: Console) -> None:
    page = await console.page()
    await sign_in(page, console.brand.key)
    rows = page.locator("#queue-rows tr[data-conversation]")
    first = await consumer_texts(console, CONSUMER, "Allô ?")
    await expect(rows).to_have_count(1)
    await tab_to(page, f"open-{first}")
    await page.evaluate("document.activeElement.dataset.before = 'update'")
    await consumer_texts(console, "+33612345679", "Bonjour")  # the rows are swapped
    await expect(rows).to_have_count(2)
    assert await page.evaluate("document.activeElement.dataset.before") is None  # a new link
    assert await page.evaluate("document.activeElement.id") == f"open-{first}"
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"/console/conversations/{first}")

    await page.goto("/console")
    await tab_to(page, "next-for-me")
    await consumer_texts(console, "+33612345670", "Vous êtes là ?")
    await expect(rows).to_have_count(3)
    assert await page.evaluate("document.activeElement.id") == "next-for-me"
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"/console/conversations/{first}")  # the oldest
    await expect(page.locator("#assignee")).to_have_text("alice")
