"""An email conversation end to end: sent through a real SMTP relay, answered by the
consumer over real SMTP to Chainon's inbound server, threaded and stripped of its quotes,
in the same conversation as the consumer's SMS."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from chainon.runtime import Runtime
from chainon.settings import StoreKind
from domain import commands as cmd
from domain.channels import Channel
from domain.conversation import Conversation
from domain.message_status import MessageStatus
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


async def test_an_email_round_trip_threads_into_the_conversation(
    runtime: Runtime,
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    core = runtime.core
    brand = core.register_brand(
        slug="maison",
        name="Maison",
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
    assert mailed["From"] == BRAND_EMAIL
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
