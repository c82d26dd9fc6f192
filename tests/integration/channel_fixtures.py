"""Every channel provider with the peer it talks to, for the channel provider contract.

Each ``…Peer`` holds a started provider, the sink it reports to and what the other side
saw: the sandbox plays its own handset; SMPP talks to the SMSC simulator (node-smpp), RCS
to the fake RBM platform (``tests/rbm``) over real HTTP, email to an aiosmtpd relay on
127.0.0.1 (and that relay's delivery reports come back to the provider's own SMTP server).

The providers and the simulators are imported here and nowhere else in the contract, so
that a move of a provider or a simulator is one edit.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TypeVar

import aiosmtplib
import pytest

from chainon.adapters.channels.email.provider import EmailProvider
from chainon.adapters.channels.port import (
    Accepted,
    ChannelProvider,
    ChannelRefusal,
    OutboundMessage,
    RevokeMessage,
)
from chainon.adapters.channels.rcs.provider import RcsProvider
from chainon.adapters.channels.sandbox import SandboxOutcome, SandboxProvider
from chainon.adapters.channels.smpp.link import SmppLink
from chainon.adapters.channels.smpp.provider import SmppProvider
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt
from devtools.smsc_simulator import Smsc, submits_of
from tests.integration.test_email import DOMAIN, DsnSMTP, Relay, bounce
from tests.integration.test_email import settings as email_settings
from tests.rbm.fixture import (
    AGENT_ID,
    RbmPeer,
    rbm_fixture,
    rbm_servers_fixture,
)

__all__ = [
    "ChannelPeer",
    "email_peer_fixture",
    "rbm_fixture",
    "rbm_servers_fixture",
    "rcs_peer_fixture",
    "revoke_of",
    "sandbox_peer_fixture",
    "smpp_peer_fixture",
    "smsc_fixture",
]

T = TypeVar("T")
PHONE = "+33612345678"
SILENT_PHONE = "+33698765432"  # a handset that takes RCS and never reports delivery
SMS_SENDER = "+33939000001"
BRAND_EMAIL = "bonjour@maison-lumiere.example"
CONSUMER_EMAIL = "claire.martin@example.org"


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 10.0) -> T:
    """The first non-empty answer of ``probe``, polled until ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing came within {within}s")
        await asyncio.sleep(0.02)


@dataclass
class RecordingSink:
    """The core's side of the channel port: what reached it, in order."""

    inbound_messages: list[ReceiveMessage] = field(default_factory=list)
    receipts: list[RecordReceipt] = field(default_factory=list)
    refusals: list[ChannelRefusal] = field(default_factory=list)

    async def inbound(self, message: ReceiveMessage) -> None:
        self.inbound_messages.append(message)

    async def receipt(self, receipt: RecordReceipt) -> None:
        self.receipts.append(receipt)

    async def refused(self, refusal: ChannelRefusal) -> None:
        self.refusals.append(refusal)


def revoke_of(message: OutboundMessage, accepted: Accepted) -> RevokeMessage:
    return RevokeMessage(
        message_id=message.message_id,
        conversation_id=message.conversation_id,
        brand_id=message.brand_id,
        channel=message.channel,
        sender=message.sender,
        recipient=message.recipient,
        provider_message_id=accepted.provider_message_id,
    )


class ChannelPeer(ABC):
    """A started provider, its sink, and the other side of its protocol."""

    provider: ChannelProvider
    channel: Channel
    sender: str
    recipient: str
    revokes: bool  # whether the provider declares it can take a sent message back
    settle = 0.3  # seconds for a second copy, if one went, to reach the peer

    def __init__(self) -> None:
        self.sink = RecordingSink()

    def message(self, recipient: str | None = None) -> OutboundMessage:
        """A new message on this peer's channel, with a body of its own."""
        message_id = uuid.uuid4()
        return OutboundMessage(
            message_id=message_id,
            conversation_id=uuid.uuid4(),
            brand_id=uuid.uuid4(),
            channel=self.channel,
            sender=self.sender,
            recipient=recipient or self.recipient,
            body=f"Votre colis arrive demain ({message_id.hex[:8]})",
        )

    @abstractmethod
    async def copies(self, message: OutboundMessage) -> int:
        """How many copies of ``message`` the other side has been handed."""

    async def receipts(self) -> list[RecordReceipt]:
        """Waits for the peer's delivery reports to reach the sink; returns them all."""

        async def arrived() -> list[RecordReceipt] | None:
            await self.pump()
            return list(self.sink.receipts) or None

        return await eventually(arrived)

    async def pump(self) -> None:  # noqa: B027 - only peers that call us back need it
        """Hands the provider what the peer sent to an endpoint of ours (RCS webhooks, the
        relay's delivery reports)."""

    async def undelivered(self) -> OutboundMessage:
        """A message the peer will hold undelivered until it is revoked (revoking peers)."""
        raise NotImplementedError(f"{type(self).__name__} does not revoke")


# The sandbox: its own handset


class SandboxPeer(ChannelPeer):
    channel = Channel.RCS
    sender = AGENT_ID
    recipient = PHONE
    revokes = True

    def __init__(self) -> None:
        super().__init__()
        self.sandbox = SandboxProvider(receipt_delay=0.02)
        self.provider = self.sandbox

    async def copies(self, message: OutboundMessage) -> int:
        """The handset's copies: accepted under an id and delivered under it."""
        return len(
            [
                provider_id
                for provider_id, sent in self.sandbox.sent.items()
                if sent.message_id == message.message_id and provider_id in self.sandbox.delivered
            ]
        )

    async def undelivered(self) -> OutboundMessage:
        self.sandbox.set_outcome(SILENT_PHONE, SandboxOutcome.SILENT, Channel.RCS)
        return self.message(SILENT_PHONE)


@pytest.fixture(name="sandbox_peer")
async def sandbox_peer_fixture() -> AsyncIterator[SandboxPeer]:
    peer = SandboxPeer()
    await peer.provider.start(peer.sink)
    yield peer
    await peer.provider.stop()


# SMPP: the SMSC simulator


@pytest.fixture(name="smsc", scope="module")
def smsc_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsc]:
    with Smsc(
        system_id="chainon",
        password="secret",
        directory=tmp_path_factory.mktemp("smsc"),
        pdu_log=False,
    ) as simulator:
        yield simulator


class SmppPeer(ChannelPeer):
    channel = Channel.SMS
    sender = SMS_SENDER
    recipient = PHONE
    revokes = False

    def __init__(self, smsc: Smsc) -> None:
        super().__init__()
        self.smsc = smsc
        self.provider = SmppProvider(
            SmppLink(
                name="contract",
                host="127.0.0.1",
                port=smsc.port,
                system_id="chainon",
                password="secret",
            )
        )

    async def copies(self, message: OutboundMessage) -> int:
        return len([s for s in submits_of(self.smsc.log()) if s["text"] == message.body])


@pytest.fixture(name="smpp_peer")
async def smpp_peer_fixture(smsc: Smsc) -> AsyncIterator[SmppPeer]:
    smsc.reset(config=True)
    peer = SmppPeer(smsc)
    await peer.provider.start(peer.sink)
    assert isinstance(peer.provider, SmppProvider)
    await peer.provider.ready()
    yield peer
    await peer.provider.stop()


# RCS: the fake RBM platform


class RcsPeer(ChannelPeer):
    channel = Channel.RCS
    sender = AGENT_ID
    recipient = PHONE
    revokes = True

    def __init__(self, rbm: RbmPeer) -> None:
        super().__init__()
        self.rbm = rbm
        self.rcs = RcsProvider(rbm.settings())
        self.provider = self.rcs
        self._pumped = 0

    async def copies(self, message: OutboundMessage) -> int:
        """The DELIVERED events the platform reported for the message: one per handset copy."""
        return len(
            [
                event
                for event in map(_rbm_event, self.rbm.receiver.received)
                if event.get("eventType") == "DELIVERED"
                and event.get("messageId") == str(message.message_id)
            ]
        )

    async def pump(self) -> None:
        received = self.rbm.receiver.received
        while self._pumped < len(received):
            webhook = received[self._pumped]
            self._pumped += 1
            await self.rcs.handle_webhook(webhook.body, webhook.signature)

    async def undelivered(self) -> OutboundMessage:
        await self.rbm.phone(SILENT_PHONE, capable=True, outcome="silent")
        return self.message(SILENT_PHONE)


def _rbm_event(received: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        base64.b64decode(json.loads(received.body)["message"]["data"])
    )
    return data


@pytest.fixture(name="rcs_peer")
async def rcs_peer_fixture(rbm: RbmPeer) -> AsyncIterator[RcsPeer]:
    await rbm.phone(PHONE, capable=True, outcome="deliver", delay=0.01)
    peer = RcsPeer(rbm)
    await peer.provider.start(peer.sink)
    yield peer
    await peer.provider.stop()


# Email: an aiosmtpd relay, whose delivery reports come back to our SMTP server


class EmailPeer(ChannelPeer):
    channel = Channel.EMAIL
    sender = BRAND_EMAIL
    recipient = CONSUMER_EMAIL
    revokes = False

    def __init__(self, relay: Relay, relay_port: int) -> None:
        super().__init__()
        self.relay = relay
        config = email_settings(relay_port)
        ids = config.reply_domain_ids()
        self.email = EmailProvider(config, accepts=ids.owns)
        self.provider = self.email
        self._reported = 0

    async def copies(self, message: OutboundMessage) -> int:
        own_id = f"<{message.message_id}@{DOMAIN}>"
        return len([e for e in self._emails() if e["Message-ID"] == own_id])

    def _emails(self) -> list[EmailMessage]:
        return [self.relay.email(i) for i in range(len(self.relay.received))]

    async def pump(self) -> None:
        """The relay reports each email it took as delivered (a DSN, as with NOTIFY=SUCCESS),
        to the bounce address, through our inbound SMTP server."""
        assert self.email.inbound is not None
        while self._reported < len(self.relay.mail_params):
            params = self.relay.mail_params[self._reported]
            self._reported += 1
            (envid,) = [p.removeprefix("ENVID=") for p in params if p.startswith("ENVID=")]
            report = bounce(envelope_id=envid, returned_message_id=envid, action="delivered")
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1", port=self.email.inbound.port, start_tls=False
            )
            async with client:
                await client.sendmail("", [f"bounces@{DOMAIN}"], report)


@pytest.fixture(name="email_peer")
async def email_peer_fixture() -> AsyncIterator[EmailPeer]:
    relay = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: DsnSMTP(relay, hostname="relay.test", loop=loop), "127.0.0.1", 0
    )
    peer = EmailPeer(relay, server.sockets[0].getsockname()[1])
    await peer.provider.start(peer.sink)
    yield peer
    await peer.provider.stop()
    server.close()
    await server.wait_closed()
