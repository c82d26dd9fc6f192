"""One provider link that is down holds up no other, and never keeps Chainon from stopping.

Field trial: with the SMTP relay down, one email retried in place by the dispatch kept every
outbound message waiting (an SMS stayed ``queued`` 76 s, until the relay came back), and
``chainon serve`` ignored SIGTERM while the email kept failing. Here the relay is a port
nobody listens on, then a real SMTP server (aiosmtpd) on that same port.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from uuid import UUID

import pytest

from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import CONSUMER, BrandWithKey, make_settings, register
from tests.integration.test_email import DsnSMTP, Relay

pytestmark = pytest.mark.asyncio
CONSUMER_EMAIL = "camille@example.fr"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def email_settings(tmp_path: Path, relay_port: int) -> Settings:
    settings = make_settings(StoreKind.SQLITE, tmp_path)
    values = settings.model_dump() | {
        "email_relay_port": relay_port,
        "email_reply_domain": "reply.maison.example",
        "email_reply_secret": "a-secret-long-enough-to-sign",
        "email_inbound_port": free_port(),
        "email_relay_starttls": False,  # the test relay speaks no TLS
    }
    return Settings(**values)


@pytest.fixture
def relay_port() -> int:
    return free_port()  # nobody listens there: the relay is down


@pytest.fixture
async def runtime(tmp_path: Path, relay_port: int) -> AsyncIterator[Runtime]:
    runtime = Runtime(email_settings(tmp_path, relay_port))
    await runtime.start()
    try:
        yield runtime
    finally:
        await asyncio.wait_for(runtime.stop(), timeout=10.0)  # a stop must not hang
        runtime.close()


async def until(check: Callable[[], bool], within: float) -> float:
    """Waits for ``check``; returns how long it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"not within {within} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def status_of(runtime: Runtime, outcome: cmd.Outcome) -> Callable[[], MessageStatus]:
    assert outcome.conversation_id is not None
    assert outcome.message_id is not None
    conversation_id: UUID = outcome.conversation_id
    message_id: UUID = outcome.message_id

    def status() -> MessageStatus:
        return runtime.core.get(Conversation, conversation_id).message(message_id).status

    return status


async def send_email(runtime: Runtime, brand: BrandWithKey) -> Callable[[], MessageStatus]:
    email = await runtime.handle(
        cmd.SendMessage(brand_id=brand.id, to=CONSUMER_EMAIL, body="Votre facture est prête")
    )
    assert email.channel is Channel.EMAIL
    await asyncio.sleep(0.5)  # handed to its link, refused, waiting for its next try
    return status_of(runtime, email)


async def lag(runtime: Runtime) -> int:
    return sum((await runtime.dispatch_worker.consumer.lag()).values())


async def test_an_sms_goes_within_a_second_while_the_email_relay_is_down(
    runtime: Runtime, relay_port: int
) -> None:
    brand = register(runtime)
    email_status = await send_email(runtime, brand)
    assert email_status() is MessageStatus.QUEUED

    sms = await runtime.handle(
        cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Votre colis arrive demain")
    )
    assert sms.channel is Channel.SMS
    sms_status = status_of(runtime, sms)
    took = await until(lambda: sms_status() is not MessageStatus.QUEUED, within=1.0)
    assert took < 1.0
    await until(lambda: sms_status() is MessageStatus.DELIVERED, within=2.0)
    assert email_status() is MessageStatus.QUEUED  # still waiting for its relay

    # The relay comes back: the email goes at its link's next try, not in place.
    handler = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: DsnSMTP(handler, hostname="relay.test", loop=loop), "127.0.0.1", relay_port
    )
    try:
        await until(lambda: email_status() is MessageStatus.SENT, within=10.0)
        assert len(handler.received) == 1
        assert handler.received[0].rcpt_tos == [CONSUMER_EMAIL]
    finally:
        server.close()
        await server.wait_closed()
    # Everything is done, so everything is committed: the group has nothing left.
    for _ in range(100):
        if await lag(runtime) == 0:
            break
        await asyncio.sleep(0.05)
    assert await lag(runtime) == 0


async def test_stopping_ends_the_retries_of_a_failing_link_at_once(
    runtime: Runtime,
) -> None:
    brand = register(runtime)
    email_status = await send_email(runtime, brand)
    started = time.monotonic()
    await asyncio.wait_for(runtime.stop(), timeout=3.0)
    assert time.monotonic() - started < 3.0
    assert email_status() is MessageStatus.QUEUED
    await runtime.start()  # the fixture stops it again


async def test_the_email_left_unsent_at_a_stop_goes_after_the_restart(
    tmp_path: Path, relay_port: int
) -> None:
    first = Runtime(email_settings(tmp_path, relay_port))
    await first.start()
    try:
        brand = register(first)
        email = await first.handle(
            cmd.SendMessage(brand_id=brand.id, to=CONSUMER_EMAIL, body="Votre facture est prête")
        )
        await asyncio.sleep(0.5)  # refused by the relay that is down: not sent
        assert status_of(first, email)() is MessageStatus.QUEUED
    finally:
        await asyncio.wait_for(first.stop(), timeout=3.0)
        first.close()

    handler = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: DsnSMTP(handler, hostname="relay.test", loop=loop), "127.0.0.1", relay_port
    )
    second = Runtime(email_settings(tmp_path, relay_port))
    await second.start()
    try:
        await until(lambda: status_of(second, email)() is MessageStatus.SENT, within=10.0)
        assert len(handler.received) == 1
    finally:
        await second.stop()
        second.close()
        server.close()
        await server.wait_closed()
