"""The unsubscribe link of a marketing email, end to end: the email as a real SMTP relay
(aiosmtpd) received it carries RFC 8058's two headers; the one-click POST to its HTTPS
link revokes marketing on every channel with the request as evidence; a GET (a link
scanner) changes nothing; a forged token is refused; the mailto link works by its
prefilled keyword; a service email carries no link."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx
import pytest

from chainon.api.app import create_app
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.purpose import Purpose
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from chainon.unsubscribe_links import SECRET_FILE, unsubscribe_links
from tests.conftest import BRAND_SMS, CONSUMER, BrandWithKey, make_settings, register
from tests.integration.test_email import Relay, relay  # noqa: F401 - the fixture

CONSUMER_EMAIL = "camille@example.fr"
PUBLIC = "https://chainon.maison.example"
PROMO = "Nos soldes commencent demain : -30 % sur tout le catalogue."
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def runtime(tmp_path: Path, relay: tuple[Relay, int]) -> AsyncIterator[Runtime]:  # noqa: F811
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={
            "email_relay_port": relay[1],
            "email_relay_starttls": False,
            "email_reply_domain": "reply.maison.example",
            "email_reply_secret": "a-secret-long-enough-to-sign",
            "email_inbound_port": free_port(),
            "public_url": PUBLIC,
        }
    )
    runtime = Runtime(settings)
    await runtime.start()
    yield runtime
    await runtime.stop()
    runtime.close()


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[tuple[httpx.AsyncClient, BrandWithKey]]:
    brand = register(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
        base_url=PUBLIC,
        headers={"Authorization": f"Bearer {brand.key}"},
    ) as client:
        yield client, brand


async def mailed(mailbox: Relay, count: int) -> EmailMessage:
    for _ in range(400):
        if len(mailbox.received) >= count:
            return mailbox.email(count - 1)
        await asyncio.sleep(0.025)
    raise AssertionError(f"the relay has {len(mailbox.received)} emails, not {count}")


async def opted_in_contact(runtime: Runtime, client: httpx.AsyncClient, brand: BrandWithKey) -> str:
    """A contact reachable by SMS and email, who opted in to marketing."""
    first = await runtime.handle(
        cmd.ReceiveMessage(
            provider="smsc",
            provider_message_id="sms-1",
            channel=Channel.SMS,
            sender=CONSUMER,
            recipient=BRAND_SMS,
            body="Bonjour",
        )
    )
    assert first.contact_id is not None
    await runtime.handle(
        cmd.AddContactAddress(
            brand_id=brand.id, contact_id=first.contact_id, address=CONSUMER_EMAIL
        )
    )
    grant = {"action": "grant", "purpose": "marketing"}
    granted = await client.post(f"/v1/contacts/{first.contact_id}/consent", json=grant)
    assert granted.status_code in (200, 202), granted.text
    return str(first.contact_id)


async def send(client: httpx.AsyncClient, channel: str, purpose: str = "marketing") -> Any:
    to = CONSUMER_EMAIL if channel == "email" else CONSUMER
    body = PROMO if channel == "email" else f"{PROMO} STOP au 0939000001"
    sent = await client.post(
        "/v1/messages", json={"to": to, "body": body, "purpose": purpose, "channel": channel}
    )
    assert sent.status_code in (200, 202), sent.text
    return sent.json()


def links(email: EmailMessage) -> tuple[str, str]:
    """The https and mailto URIs of the email's List-Unsubscribe, in that order."""
    found = re.findall(r"<([^<>]+)>", str(email["List-Unsubscribe"]))
    assert len(found) == 2, email["List-Unsubscribe"]
    return found[0], found[1]


async def test_a_marketing_email_carries_one_click_unsubscribe_and_it_revokes_everywhere(
    runtime: Runtime,
    api: tuple[httpx.AsyncClient, BrandWithKey],
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    client, brand = api
    contact = await opted_in_contact(runtime, client, brand)
    queued = await send(client, "email")
    assert queued["status"] == "queued", queued
    email = await mailed(relay[0], 1)
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = links(email)
    assert https.startswith(f"{PUBLIC}/v1/unsubscribe/")
    assert mailto.startswith("mailto:reply+")
    path = urlsplit(https).path

    # A link scanner opens it: a page with the button, and nothing revoked.
    page = await client.get(path, headers={"Authorization": ""})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    before = (await client.get(f"/v1/contacts/{contact}/consent")).json()
    assert [c["granted"] for c in before["history"]] == [True]

    # The mail client's one-click: no API key, the token is the credential.
    clicked = await client.post(path, data=ONE_CLICK, headers={"Authorization": ""})
    assert clicked.status_code == 200, clicked.text
    assert clicked.json() == {"unsubscribed": True, "changed": True, "purpose": "marketing"}
    consent = (await client.get(f"/v1/contacts/{contact}/consent")).json()
    change = consent["history"][-1]
    assert (change["granted"], change["purpose"], change["channel"]) == (
        False,
        "marketing",
        None,
    )
    evidence = change["evidence"]
    assert (evidence["source"], evidence["channel"], evidence["address"]) == (
        "unsubscribe_link",
        "email",
        CONSUMER_EMAIL,
    )
    assert evidence["text"].startswith(f"POST {path}")
    assert evidence["text"].endswith("List-Unsubscribe=One-Click")
    assert consent["state"][0]["channels"] == {
        "sms": "revoked",
        "rcs": "revoked",
        "email": "revoked",
    }

    # Used again: the same answer, nothing new in the ledger.
    again = await client.post(path, data=ONE_CLICK, headers={"Authorization": ""})
    assert again.status_code == 200
    assert again.json()["changed"] is False
    history = (await client.get(f"/v1/contacts/{contact}/consent")).json()["history"]
    assert len(history) == len(consent["history"])

    # The next marketing send is blocked on every channel; the relay gets nothing more.
    for channel in ("email", "sms"):
        blocked = await send(client, channel)
        assert (blocked["status"], blocked["reason"]) == ("blocked", "opted_out"), channel
    await asyncio.sleep(0.3)
    assert len(relay[0].received) == 1


async def test_a_browser_gets_a_page_back_from_the_form(
    runtime: Runtime,
    api: tuple[httpx.AsyncClient, BrandWithKey],
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    client, brand = api
    contact = await opted_in_contact(runtime, client, brand)
    await send(client, "email")
    path = urlsplit(links(await mailed(relay[0], 1))[0]).path
    posted = await client.post(
        path, data=ONE_CLICK, headers={"Authorization": "", "Accept": "text/html"}
    )
    assert posted.status_code == 200
    assert "will receive no more marketing messages" in posted.text
    consent = (await client.get(f"/v1/contacts/{contact}/consent")).json()
    assert consent["history"][-1]["evidence"]["source"] == "unsubscribe_link"


async def test_a_forged_or_altered_token_is_refused_and_revokes_nothing(
    runtime: Runtime,
    api: tuple[httpx.AsyncClient, BrandWithKey],
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    client, brand = api
    contact = await opted_in_contact(runtime, client, brand)
    await send(client, "email")
    path = urlsplit(links(await mailed(relay[0], 1))[0]).path
    token = path.rsplit("/", 1)[1]
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (altered, "not-a-token", "A" * 600):
        for method in ("GET", "POST"):
            answer = await client.request(
                method, f"/v1/unsubscribe/{bad}", data=ONE_CLICK, headers={"Authorization": ""}
            )
            assert answer.status_code == 404, (method, bad, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["field"] == "token"
    # The right token without RFC 8058's body: refused, naming what is missing.
    empty = await client.post(path, headers={"Authorization": ""})
    assert empty.status_code == 400
    assert empty.json()["field"] == "List-Unsubscribe"
    history = (await client.get(f"/v1/contacts/{contact}/consent")).json()["history"]
    assert [c["granted"] for c in history] == [True]


async def test_the_mailto_link_unsubscribes_by_its_prefilled_keyword(
    runtime: Runtime,
    api: tuple[httpx.AsyncClient, BrandWithKey],
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    client, brand = api
    contact = await opted_in_contact(runtime, client, brand)
    await send(client, "email")
    mailto = urlsplit(links(await mailed(relay[0], 1))[1])
    assert mailto.query == "subject=unsubscribe&body=UNSUBSCRIBE"
    written = EmailMessage()  # what the consumer's mail client sends for that link
    written["From"] = CONSUMER_EMAIL
    written["To"] = unquote(mailto.path)
    written["Subject"] = "unsubscribe"
    written["Message-ID"] = "<unsubscribe-1@example.fr>"
    written.set_content("UNSUBSCRIBE")
    await aiosmtplib.send(written, hostname="127.0.0.1", port=runtime.settings.email_inbound_port)
    for _ in range(400):
        consent = (await client.get(f"/v1/contacts/{contact}/consent")).json()
        if len(consent["history"]) == 2:
            break
        await asyncio.sleep(0.025)
    change = consent["history"][-1]
    assert (change["granted"], change["evidence"]["source"]) == (False, "keyword")
    assert change["evidence"]["channel"] == "email"


async def test_a_service_email_carries_no_unsubscribe_link(
    runtime: Runtime,
    api: tuple[httpx.AsyncClient, BrandWithKey],
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    client, _ = api
    sent = await send(client, "email", purpose="service")
    assert sent["status"] == "queued"
    email = await mailed(relay[0], 1)
    assert email["List-Unsubscribe"] is None
    assert email["List-Unsubscribe-Post"] is None


async def test_the_embedded_secret_is_kept_owner_only_and_outlives_a_restart(
    runtime: Runtime,
) -> None:
    links = runtime.unsubscribe_links
    assert links is not None
    assert stat.S_IMODE(os.stat(runtime.settings.data_dir / SECRET_FILE).st_mode) == 0o600
    token = links.token(uuid.uuid4(), CONSUMER_EMAIL, Purpose.MARKETING)
    after_restart = unsubscribe_links(runtime.settings)  # what the next start reads
    assert after_restart is not None
    assert after_restart.read(token) is not None


async def test_without_a_public_url_a_marketing_email_is_refused_naming_the_rule(
    tmp_path: Path,
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={
            "email_relay_port": relay[1],
            "email_relay_starttls": False,
            "email_reply_domain": "reply.maison.example",
            "email_reply_secret": "a-secret-long-enough-to-sign",
            "email_inbound_port": free_port(),
        }
    )
    runtime = Runtime(settings)
    await runtime.start()
    try:
        assert runtime.unsubscribe_links is None
        brand = register(runtime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
            base_url=PUBLIC,
            headers={"Authorization": f"Bearer {brand.key}"},
        ) as client:
            await opted_in_contact(runtime, client, brand)  # consent is not what is missing
            sent = await client.post(
                "/v1/messages",
                json={"to": CONSUMER_EMAIL, "body": PROMO, "purpose": "marketing"},
            )
            assert sent.status_code == 422, sent.text
            assert sent.json()["field"] == "purpose"
            assert "must carry List-Unsubscribe" in sent.json()["detail"]
            service = await send(client, "email", purpose="service")
            assert service["status"] == "queued"  # a service email needs no link
            await mailed(relay[0], 1)
        await asyncio.sleep(0.2)
        assert len(relay[0].received) == 1
        assert relay[0].email()["List-Unsubscribe"] is None
    finally:
        await runtime.stop()
        runtime.close()
