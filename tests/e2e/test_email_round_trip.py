"""An email conversation end to end: sent through a real SMTP relay, answered by the
consumer over real SMTP to Chainon's inbound server, threaded and stripped of its quotes,
in the same conversation as the consumer's SMS; strangers and forged reply addresses
refused while the sending server is still on the line; auto-replies kept, unanswered."""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

import aiosmtplib
import httpx
import pytest
from rich.console import Console

from chainon.adapters.bus.port import Record
from chainon.api.app import create_app
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message import Message
from chainon.domain.message_status import MessageStatus
from chainon.projections.agent_queue import waiting
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from chainon.terminal import render_timeline
from chainon.topic_records import DeadLetter
from tests.conftest import BRAND_SMS, CONSUMER, make_settings
from tests.integration.test_email import Relay, relay  # noqa: F401 - the fixture

BRAND_EMAIL = "bonjour@maison.example"
CONSUMER_EMAIL = "camille@example.fr"


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
        }
    )
    runtime = Runtime(settings)
    await runtime.start()
    yield runtime
    await runtime.stop()
    runtime.close()


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"still not {what}")


async def mail(runtime: Runtime, email: EmailMessage, sender: str = CONSUMER_EMAIL) -> int:
    """One SMTP transaction to Chainon's server, as the consumer's server makes it: the
    code it answers at the end of DATA."""
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=runtime.settings.email_inbound_port, start_tls=False
    )
    async with client:
        await client.mail(sender)
        await client.rcpt(str(email["To"]))
        try:
            return (await client.data(email.as_bytes())).code
        except aiosmtplib.SMTPDataError as refused:
            return refused.code


def answer_to(mailed: EmailMessage, body: str, sender: str = CONSUMER_EMAIL) -> EmailMessage:
    answer = EmailMessage()
    answer["From"] = sender
    answer["To"] = mailed["Reply-To"]
    answer["Subject"] = "Re: " + mailed["Subject"]
    answer["Message-ID"] = f"<{hashlib.sha256(body.encode()).hexdigest()[:16]}@example.fr>"
    answer["In-Reply-To"] = mailed["Message-ID"]
    answer.set_content(body)
    return answer


async def emailed_conversation(
    runtime: Runtime, mailbox: Relay
) -> tuple[Brand, UUID, EmailMessage]:
    """A brand's first email to a consumer (no SMS before it), as the relay got it."""
    brand = runtime.core.register_brand(
        slug="maison", name="Maison Lumière", senders=[(Channel.EMAIL, BRAND_EMAIL)]
    )
    sent = await runtime.handle(
        cmd.SendMessage(brand_id=brand.id, to=CONSUMER_EMAIL, body="Votre colis arrive demain.")
    )
    assert sent.conversation_id is not None
    await until(lambda: bool(mailbox.received), "mailed")
    return brand, sent.conversation_id, mailbox.email()


def shown_in_terminal(runtime: Runtime, conversation_id: UUID) -> str:
    """The timeline ``chainon conversations show`` prints."""
    console = Console(record=True, width=200, file=io.StringIO())
    conversation = runtime.core.get(Conversation, conversation_id)
    events = runtime.core.events.get(conversation_id)
    console.print(render_timeline(conversation, events, brand="Maison", contact=CONSUMER_EMAIL))
    return console.export_text()


def messages_of(runtime: Runtime, conversation_id: UUID) -> list[Message]:
    return list(runtime.core.get(Conversation, conversation_id).messages.values())


async def test_an_email_round_trip_threads_into_the_conversation(
    runtime: Runtime,
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    core = runtime.core
    brand = core.register_brand(
        slug="maison",
        name="Maison Lumière",
        senders=[(Channel.SMS, BRAND_SMS), (Channel.EMAIL, BRAND_EMAIL)],
    )
    first = core.handle(
        cmd.ReceiveMessage(
            provider="smsc",
            provider_message_id="sms-1",
            channel=Channel.SMS,
            sender=CONSUMER,
            recipient=BRAND_SMS,
            body="Je vous écris aussi par mail",
        )
    )
    core.handle(
        cmd.AddContactAddress(
            brand_id=brand.id, contact_id=first.contact_id, address=CONSUMER_EMAIL
        )
    )
    sent = await runtime.handle(
        cmd.Reply(
            brand_id=brand.id,
            conversation_id=first.conversation_id,
            body="Votre colis arrive demain.",
            channel=Channel.EMAIL,
        )
    )
    handler, _ = relay
    for _ in range(200):
        if handler.received:
            break
        await asyncio.sleep(0.025)
    mailed = handler.email()
    assert mailed["To"] == CONSUMER_EMAIL
    # The brand's name shows as the sender; the subject says who and what.
    assert mailed["From"] == f"Maison Lumière <{BRAND_EMAIL}>"
    assert mailed["Subject"] == "Maison Lumière: Votre colis arrive demain."
    reply_to, message_id = mailed["Reply-To"], mailed["Message-ID"]
    assert reply_to.startswith("reply+")
    assert str(sent.message_id) in message_id

    answer = EmailMessage()
    answer["From"] = f"Camille <{CONSUMER_EMAIL}>"
    answer["To"] = reply_to
    answer["Subject"] = "Re: " + mailed["Subject"]
    answer["Message-ID"] = "<answer-1@example.fr>"
    answer["In-Reply-To"] = message_id
    answer.set_content(
        "Merci beaucoup !\n\n"
        "Le lun. 2 mars 2026 à 09:00, Maison <bonjour@maison.example> a écrit :\n"
        "> Votre colis arrive demain.\n"
    )
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300
    answer.add_attachment(photo, maintype="image", subtype="png", filename="colis abîmé.png")
    await aiosmtplib.send(answer, hostname="127.0.0.1", port=runtime.settings.email_inbound_port)

    conversation = None
    for _ in range(200):
        conversation = core.get(Conversation, first.conversation_id)
        if len(conversation.messages) == 3:
            break
        await asyncio.sleep(0.025)
    assert conversation is not None
    messages = list(conversation.messages.values())
    assert [(m.direction.value, m.channel.value) for m in messages] == [
        ("inbound", "sms"),
        ("outbound", "email"),
        ("inbound", "email"),
    ]
    assert messages[2].body == "Merci beaucoup !"
    assert messages[1].status is MessageStatus.SENT
    assert messages[1].provider_message_id == message_id.strip("<>")
    assert messages[2].subject == "Re: Maison Lumière: Votre colis arrive demain."
    described = ("colis abîmé.png", "image/png", len(photo), hashlib.sha256(photo).hexdigest())
    (attachment,) = messages[2].attachments
    assert (attachment.filename, attachment.content_type, attachment.size, attachment.sha256) == (
        described
    )

    # The API shows them on the message and in the timeline.
    app = create_app(runtime=runtime)
    key = core.api_keys.issue(brand.id, "tests")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
    ) as api:
        shown = (await api.get(f"/v1/conversations/{first.conversation_id}?order=oldest")).json()
    inbound = shown["messages"][2]
    assert [tuple(a.values()) for a in inbound["attachments"]] == [described]
    assert (inbound["subject"], inbound["automatic"]) == (messages[2].subject, False)
    (received,) = [
        e
        for e in shown["timeline"]
        if e["event"] == "MessageReceived" and e["detail"]["channel"] == "email"
    ]
    assert received["detail"]["attachments"] == inbound["attachments"]

    assert f"📎 colis abîmé.png (image/png, {len(photo)} bytes)" in shown_in_terminal(
        runtime, first.conversation_id
    )

    # The next email answers the consumer's, under their subject.
    await runtime.handle(
        cmd.Reply(
            brand_id=brand.id,
            conversation_id=first.conversation_id,
            body="Désolés pour le colis, nous en renvoyons un.",
            channel=Channel.EMAIL,
        )
    )
    await until(lambda: len(handler.received) == 2, "mailed again")
    assert handler.email()["Subject"] == "Re: Maison Lumière: Votre colis arrive demain."
    assert handler.email()["In-Reply-To"] == "<answer-1@example.fr>"


async def test_a_reply_address_takes_only_the_conversations_contact(
    runtime: Runtime,
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    handler, _ = relay
    _brand, conversation_id, mailed = await emailed_conversation(runtime, handler)
    reply_to = str(mailed["Reply-To"])
    local, _, domain = reply_to.partition("@")
    forged = answer_to(mailed, "let me in")
    del forged["To"]
    forged["To"] = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    stranger = answer_to(mailed, "I found this address", sender="mallory@example.net")

    # Refused while the sending server is on the line: it bounces to its sender.
    assert await mail(runtime, forged) == 550
    assert await mail(runtime, stranger, sender="mallory@example.net") == 550
    assert await mail(runtime, answer_to(mailed, "C'est noté")) == 250

    await until(lambda: len(messages_of(runtime, conversation_id)) == 2, "recorded")
    assert [m.body for m in messages_of(runtime, conversation_id)] == [
        "Votre colis arrive demain.",
        "C'est noté",
    ]
    # Each refusal recorded with its reason, beside the other inbound dead letters.
    letters = await dead_letters(runtime, 2)
    assert [(letter.topic, letter.reason) for letter in letters] == [
        ("smtp", "forged reply address"),
        ("smtp", "not the conversation's contact"),
    ]
    assert "mallory@example.net" in letters[1].error


async def dead_letters(runtime: Runtime, expected: int) -> list[DeadLetter]:
    consumer = runtime.bus.consumer("test-dlq", [runtime.topics.dlq(runtime.topics.inbound)])
    await consumer.start()
    got: list[Record] = []
    try:
        for _ in range(100):
            got += await consumer.poll(100, timeout=0.05)
            if len(got) >= expected:
                break
    finally:
        await consumer.stop()
    return [DeadLetter.model_validate_json(record.value) for record in got]


async def test_an_auto_reply_is_kept_as_automatic_and_asks_for_no_answer(
    runtime: Runtime,
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    handler, _ = relay
    brand, conversation_id, mailed = await emailed_conversation(runtime, handler)
    await runtime.handle(
        cmd.ResolveConversation(brand_id=brand.id, conversation_id=conversation_id, by="camille")
    )
    out_of_office = answer_to(mailed, "Je suis absente jusqu'au 10 mars.")
    out_of_office["Auto-Submitted"] = "auto-replied"

    assert await mail(runtime, out_of_office) == 250

    await until(lambda: len(messages_of(runtime, conversation_id)) == 2, "recorded")
    conversation = runtime.core.get(Conversation, conversation_id)
    automatic = messages_of(runtime, conversation_id)[1]
    assert (automatic.body, automatic.automatic) == ("Je suis absente jusqu'au 10 mars.", True)
    assert conversation.resolved  # not reopened: nobody is asked to answer a machine
    assert "sent by a machine (auto-reply)" in shown_in_terminal(runtime, conversation_id)
    await runtime.call(runtime.views.run_until_idle)
    now = datetime.now(UTC)
    assert await runtime.call(waiting, runtime.views.store, brand.id, now=now) == []

    # The consumer herself, later: the conversation reopens and waits for an agent.
    assert await mail(runtime, answer_to(mailed, "Finalement je suis là demain")) == 250
    await until(lambda: len(messages_of(runtime, conversation_id)) == 3, "recorded")
    assert not runtime.core.get(Conversation, conversation_id).resolved
    await runtime.call(runtime.views.run_until_idle)
    (item,) = await runtime.call(waiting, runtime.views.store, brand.id, now=now)
    assert item.waiting_since is not None


async def test_the_core_names_the_right_reason_for_a_stranger_on_a_reply_address(
    runtime: Runtime,
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    """Should one get past the SMTP server (the contact's address removed meanwhile), the
    core refuses it too, saying why: not "no brand owns the address"."""
    handler, _ = relay
    _brand, conversation_id, mailed = await emailed_conversation(runtime, handler)
    outcome = runtime.core.handle(
        cmd.ReceiveMessage(
            provider="smtp",
            provider_message_id="stranger-1@example.net",
            channel=Channel.EMAIL,
            sender="mallory@example.net",
            recipient=str(mailed["Reply-To"]),
            body="let me in",
            conversation_hint=conversation_id,
        )
    )
    assert outcome.refused == (
        "the sender is not the contact of the conversation this email reply address belongs to"
    )
    assert len(messages_of(runtime, conversation_id)) == 1
