"""What the console's conversation page shows beside and inside the timeline: the
contact's CRM profile, a read RCS message's tick, the conversation's CSAT rating."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.message import MessageStatus
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey
from tests.e2e.console_client import CONSUMER, consumer_writes, sign_in
from tests.e2e.flow_helpers import TUESDAY_MORNING, YAML, clock_from, example


async def shown_when(browser: httpx.AsyncClient, url: str, wanted: str) -> str:
    """The page once it shows ``wanted`` (the views follow the core a moment later)."""
    page = ""
    for _ in range(100):
        page = (await browser.get(url)).text
        if wanted in page:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never showed {wanted!r}: {page}")


async def test_the_contacts_profile_is_beside_the_timeline(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    await sign_in(browser, brand.key)
    inbound = await consumer_writes(browser, brand.key, "Bonjour")
    contact = inbound["contact_id"]
    named = await browser.patch(
        f"/v1/contacts/{contact}",
        json={"name": "Claire Martin", "attributes": {"ville": "Lyon", "note": "<b>VIP</b>"}},
        headers={"Authorization": f"Bearer {brand.key}"},
    )
    assert named.is_success, named.text
    await sqlite_runtime.handle(
        cmd.GrantConsent(brand_id=brand.id, contact_id=contact, purpose=Purpose.MARKETING)
    )
    url = f"/console/conversations/{inbound['conversation_id']}"
    page = await shown_when(browser, url, "<dd>Claire Martin</dd>")
    assert re.search(r"<h1>Conversation #\d+\s+— Claire Martin</h1>", page)
    panel = re.search(r'<dl class="profile">(.*?)</dl>', page, re.DOTALL)
    assert panel, page
    shown = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(.*?)</dd>", panel.group(1), re.DOTALL))
    assert shown["Name"] == "Claire Martin"
    assert f": {CONSUMER}</div>" in shown["Addresses"]
    assert shown["Last channel"] == "sms"
    assert shown["Marketing consent"] == "✓"
    assert shown["Satisfaction (CSAT)"] == "—"
    assert shown["Conversations"] == "1"
    assert "<div>ville: Lyon</div>" in shown["Attributes"]
    assert "<div>note: &lt;b&gt;VIP&lt;/b&gt;</div>" in shown["Attributes"]


async def test_an_rcs_message_the_consumer_read_shows_the_read_tick(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    sqlite_runtime.core.add_sender(brand.id, Channel.RCS, "maison-lumiere_agent")
    await sign_in(browser, brand.key)
    auth = {"Authorization": f"Bearer {brand.key}"}
    sent = await browser.post(
        "/v1/messages", json={"to": CONSUMER, "body": "Votre colis arrive"}, headers=auth
    )
    assert sent.json()["channel"] == "rcs", sent.text
    conversation = sent.json()["conversation_id"]
    url = f"/console/conversations/{conversation}/timeline"
    delivered = await shown_when(browser, url, 'data-status="delivered"')
    assert "is-read" not in delivered
    assert 'title="queued → sent → delivered"' in delivered
    record = await browser.get(f"/v1/conversations/{conversation}", headers=auth)
    message: dict[str, Any] = record.json()["messages"][0]
    assert message["provider_message_id"], message
    await sqlite_runtime.handle(
        cmd.RecordReceipt(
            provider="sandbox",
            provider_message_id=message["provider_message_id"],
            status=MessageStatus.DELIVERED,
            read=True,  # RBM's READ event
        )
    )
    read = (await browser.get(url)).text
    assert '<span class="ticks is-read" title="queued → sent → delivered → read">' in read
    assert '<span class="status">queued → sent → delivered → read</span>' in read


async def test_the_conversations_rating_and_the_contacts_average_show(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    clock_from(sqlite_runtime, TUESDAY_MORNING)
    published = await browser.put(
        "/v1/flows/csat",
        content=example("csat"),
        headers={**YAML, "Authorization": f"Bearer {brand.key}"},
    )
    assert published.status_code == 201, published.text
    token = await sign_in(browser, brand.key)
    started = await consumer_writes(browser, brand.key, "Mon colis est-il parti ?")
    url = f"/console/conversations/{started['conversation_id']}"
    unrated = (await browser.get(url)).text
    assert 'id="csat"' not in unrated
    assert '<dd id="csat-average">—</dd>' in unrated
    resolved = await browser.post(f"{url}/resolve", data={"csrf": token})
    assert resolved.status_code == 303, resolved.text
    await consumer_writes(browser, brand.key, "4")  # the survey's answer
    await consumer_writes(browser, brand.key, "Non")  # no comment
    page = ""
    for _ in range(100):  # the profile's average follows once the views catch up
        page = (await browser.get(url)).text
        if "(1 rating)" in page:
            break
        await asyncio.sleep(0.05)
    assert 'Satisfaction (CSAT): <strong id="csat">4</strong>' in page
    assert '<dd id="csat-average">4.0 (1 rating)</dd>' in page
