"""The email channel against real SMTP on 127.0.0.1: aiosmtpd plays the relay we send
through, a real SMTP client plays the consumers' mail servers that write to us."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from uuid import UUID

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from chainon.adapters.channels.email.ids import ReplyDomain
from chainon.adapters.channels.email.parsing import ParsedEmail, TokenCheck
from chainon.adapters.channels.email.provider import (
    EmailProvider,
    EmailSettings,
    InboundEmailServer,
)
from chainon.adapters.channels.email.threads import EmailThread
from chainon.adapters.channels.port import (
    ChannelRefusal,
    OutboundMessage,
    PermanentFailure,
    TemporaryFailure,
)
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt
from chainon.domain.message_status import MessageStatus

DOMAIN = "reply.chainon.example"
SECRET = "a-secret-of-at-least-sixteen-characters"
BRAND = "bonjour@maison-lumiere.example"
CONSUMER = "claire.martin@example.org"


# The relay we send through


@dataclass
class Relay:
    """What the relay was handed, and what it is told to answer."""

    received: list[Envelope] = field(default_factory=list)
    mail_params: list[list[str]] = field(default_factory=list)  # ENVID, RET: the DSN ones
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_EHLO(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-DSN", responses[-1]]

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.received.append(envelope)
        return "250 2.0.0 queued"

    def email(self, index: int = -1) -> EmailMessage:
        raw = self.received[index].original_content or b""
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


class DsnSMTP(SMTP):
    """aiosmtpd knows no DSN parameters: they are noted here and taken off MAIL FROM."""

    async def smtp_MAIL(self, arg: str) -> None:  # noqa: N802
        words = (arg or "").split()
        dsn = [word for word in words if word.upper().startswith(("ENVID=", "RET="))]
        self.event_handler.mail_params.append(dsn)
        await super().smtp_MAIL(" ".join(word for word in words if word not in dsn))


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Relay, int]]:
    handler = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: DsnSMTP(handler, hostname="relay.test", loop=loop), "127.0.0.1", 0
    )
    yield handler, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def settings(relay_port: int = 25, **changes: object) -> EmailSettings:
    values: dict[str, object] = {
        "relay_host": "127.0.0.1",
        "relay_port": relay_port,
        "starttls": False,
        "timeout": 5.0,
        "reply_domain": DOMAIN,
        "reply_secret": SECRET,
        "inbound_port": 0,
    }
    return EmailSettings.model_validate(values | changes)


def outbound(**changes: object) -> OutboundMessage:
    values: dict[str, object] = {
        "message_id": uuid.uuid4(),
        "conversation_id": uuid.uuid4(),
        "brand_id": uuid.uuid4(),
        "channel": Channel.EMAIL,
        "sender": BRAND,
        "recipient": CONSUMER,
        "body": "Can we deliver on Thursday?\nReply <yes> & we'll book it.",
    }
    return OutboundMessage.model_validate(values | changes)


def threads(
    *ids: str, subject: str | None = None, first_body: str | None = None
) -> Callable[[UUID], Awaitable[EmailThread]]:
    async def lookup(conversation_id: UUID) -> EmailThread:
        return EmailThread(message_ids=ids, subject=subject, first_body=first_body)

    return lookup


# Outbound


async def test_an_email_threads_by_message_id_reply_to_and_references(
    relay: tuple[Relay, int],
) -> None:
    handler, port = relay
    earlier = ["<first@reply.chainon.example>", "CAB+x=1@mail.gmail.example"]
    provider = EmailProvider(
        settings(port), threads=threads(*earlier), brand_names=lambda _brand: None
    )
    message = outbound()

    accepted = await provider.send(message)

    assert accepted.provider == "smtp"
    assert accepted.provider_message_id == f"{message.message_id}@{DOMAIN}"
    email = handler.email()
    assert email["Message-ID"] == f"<{message.message_id}@{DOMAIN}>"
    assert email["From"].addresses[0].addr_spec == BRAND
    assert email["To"].addresses[0].addr_spec == CONSUMER
    assert email["In-Reply-To"] == "<CAB+x=1@mail.gmail.example>"
    assert email["References"] == "<first@reply.chainon.example> <CAB+x=1@mail.gmail.example>"
    # No brand name known: its domain stands in.
    assert email["Subject"] == "Re: maison-lumiere.example: Can we deliver on Thursday?"
    reply_to = email["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("reply+")
    assert reply_to.endswith(f"@{DOMAIN}")
    assert len(reply_to.partition("@")[0]) <= 64
    assert ReplyDomain(DOMAIN, SECRET).conversation_of(reply_to) == message.conversation_id
    assert email.get_content_type() == "multipart/alternative"
    plain, rich = email.iter_parts()
    assert isinstance(plain, EmailMessage)
    assert isinstance(rich, EmailMessage)
    assert plain.get_content().replace("\r\n", "\n") == message.body + "\n"
    assert "Reply &lt;yes&gt; &amp; we&#x27;ll book it." in rich.get_content()
    # Bounces come back to us, naming our message.
    assert handler.received[-1].mail_from == f"bounces@{DOMAIN}"
    assert handler.received[-1].rcpt_tos == [CONSUMER]
    assert handler.mail_params[-1] == [f"ENVID={message.message_id}@{DOMAIN}", "RET=HDRS"]


async def test_a_first_email_has_no_thread_headers_and_names_the_brand(
    relay: tuple[Relay, int],
) -> None:
    handler, port = relay
    names = {uuid.UUID(int=7): "Maison Lumière"}
    await EmailProvider(settings(port), brand_names=names.get).send(
        outbound(brand_id=uuid.UUID(int=7))
    )

    email = handler.email()
    assert email["In-Reply-To"] is None
    assert email["References"] is None
    assert email["Subject"] == "Maison Lumière: Can we deliver on Thursday?"
    assert email["From"].addresses[0].display_name == "Maison Lumière"
    assert email["From"].addresses[0].addr_spec == BRAND


async def test_a_reply_keeps_the_subject_of_the_email_it_answers(
    relay: tuple[Relay, int],
) -> None:
    handler, port = relay
    names = {uuid.UUID(int=7): "Maison Lumière"}
    earlier = ("theirs@mail.example.org",)

    async def name(brand_id: UUID) -> str | None:  # the runtime's lookup is a coroutine
        return names.get(brand_id)

    for thread, expected in [
        # The consumer wrote first: the answer is theirs, "Re:"'d once.
        (threads(*earlier, subject="Commande 4821 pas arrivée"), "Re: Commande 4821 pas arrivée"),
        (threads(*earlier, subject="RE: Commande 4821"), "RE: Commande 4821"),
        # We wrote first: our first email's subject, whatever this one says.
        (
            threads(*earlier, first_body="Votre commande 4821 est prête.\nQuand ?"),
            "Re: Maison Lumière: Votre commande 4821 est prête.",
        ),
    ]:
        provider = EmailProvider(settings(port), threads=thread, brand_names=name)
        await provider.send(outbound(brand_id=uuid.UUID(int=7)))
        assert handler.email()["Subject"] == expected
        assert handler.email()["In-Reply-To"] == "<theirs@mail.example.org>"


async def test_the_subject_is_configurable(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    long_body = "Bonjour Claire, votre commande de deux chaises et d'une table est prête à partir"
    provider = EmailProvider(
        settings(port, subject="[{brand}] {first_line}"),
        brand_names={uuid.UUID(int=7): "Maison Lumière"}.get,
    )
    await provider.send(outbound(brand_id=uuid.UUID(int=7), body=long_body))
    subject = handler.email()["Subject"]
    assert subject == "[Maison Lumière] Bonjour Claire, votre commande de deux chaises et d'une…"
    with pytest.raises(ValueError, match="placeholder"):
        settings(port, subject="{customer}")


async def test_a_retry_carries_the_same_message_id_and_is_not_mailed_twice(
    relay: tuple[Relay, int],
) -> None:
    handler, port = relay
    message = outbound()
    provider = EmailProvider(settings(port))

    first = await provider.send(message)
    again = await provider.send(message)
    assert (first, len(handler.received)) == (again, 1)

    after_restart = await EmailProvider(settings(port)).send(message)
    assert after_restart == first
    assert handler.email(0)["Message-ID"] == handler.email(1)["Message-ID"]


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "failure", "reason"),
    [
        ("550 5.1.1 user unknown", None, PermanentFailure, "550 5.1.1 user unknown"),
        (None, "554 5.7.1 rejected as spam", PermanentFailure, "554 5.7.1 rejected as spam"),
        ("451 4.7.1 greylisted, try later", None, TemporaryFailure, "451 4.7.1 greylisted"),
        (None, "452 4.3.1 insufficient storage", TemporaryFailure, "452 4.3.1"),
    ],
)
async def test_the_relay_refusal_says_whether_to_try_again(
    relay: tuple[Relay, int],
    rcpt_reply: str | None,
    data_reply: str | None,
    failure: type[Exception],
    reason: str,
) -> None:
    handler, port = relay
    handler.rcpt_reply, handler.data_reply = rcpt_reply, data_reply

    with pytest.raises(failure) as raised:
        await EmailProvider(settings(port)).send(outbound())
    assert str(raised.value).startswith(reason)
    assert handler.received == []


async def test_an_unreachable_relay_is_a_temporary_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(TemporaryFailure):
        await EmailProvider(settings(closed_port)).send(outbound())


async def test_an_address_that_cannot_be_mailed_is_a_permanent_failure() -> None:
    with pytest.raises(PermanentFailure):
        await EmailProvider(settings()).send(outbound(recipient="claire@example.org\nBcc: x@y.z"))


# Inbound


@dataclass
class Sink:
    """The core's side of the channel port, recording what reached it."""

    inbound_messages: list[ReceiveMessage] = field(default_factory=list)
    receipts: list[RecordReceipt] = field(default_factory=list)
    refusals: list[ChannelRefusal] = field(default_factory=list)
    down: bool = False

    async def inbound(self, message: ReceiveMessage) -> None:
        if self.down:
            raise ConnectionError("bus unavailable")
        self.inbound_messages.append(message)

    async def receipt(self, receipt: RecordReceipt) -> None:
        self.receipts.append(receipt)

    async def refused(self, refusal: ChannelRefusal) -> None:
        if self.down:
            raise ConnectionError("bus unavailable")
        self.refusals.append(refusal)


@dataclass
class Mailroom:
    server: InboundEmailServer
    sink: Sink
    parsed: list[ParsedEmail]
    ids: ReplyDomain
    contacts: dict[UUID, str]  # the core's answer: each conversation's contact

    def conversation(self, contact: str = CONSUMER) -> str:
        """The reply address of a new conversation with ``contact``."""
        conversation = uuid.uuid4()
        self.contacts[conversation] = contact
        return self.ids.reply_to(conversation)

    async def send(
        self, raw: bytes | EmailMessage, to: str = BRAND, sender: str = CONSUMER
    ) -> tuple[int, str]:
        """One SMTP transaction by a real client, without a SIZE declaration: the answer
        to the end of DATA."""
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=self.server.port, start_tls=False, local_hostname="mx.test"
        )
        async with client:
            await client.mail(sender)
            await client.rcpt(to)
            data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
            try:
                response = await client.data(data)
            except aiosmtplib.SMTPResponseException as refused:
                return refused.code, refused.message
            return response.code, response.message


@pytest.fixture
async def mailroom() -> AsyncIterator[Mailroom]:
    sink = Sink()
    parsed: list[ParsedEmail] = []
    config = settings(data_size_limit=64 * 1024)
    ids = config.reply_domain_ids()

    contacts: dict[UUID, str] = {}

    def accepts(address: str) -> bool:
        return address.lower() == BRAND or ids.owns(address)

    async def is_contact(conversation: UUID, sender: str) -> bool:
        return contacts.get(conversation) == sender.lower()

    provider = EmailProvider(config, accepts=accepts, is_contact=is_contact, observe=parsed.append)
    await provider.start(sink)
    assert provider.inbound is not None
    yield Mailroom(provider.inbound, sink, parsed, ids, contacts)
    await provider.stop()


def reply(body: str, **headers: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = f"Claire Martin <{CONSUMER}>"
    email["To"] = BRAND
    email["Subject"] = "Re: Message from Maison Lumière"
    email["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example.org>"
    for name, value in headers.items():
        del email[name.replace("_", "-")]
        email[name.replace("_", "-")] = value
    email.set_content(body)
    return email


QUOTED_REPLY = """Yes, Thursday works for me.

--
Claire Martin
06 12 34 56 78

On Thu, 3 Apr 2025 at 10:12, Maison Lumière <bonjour@maison-lumiere.example> wrote:
> Can we deliver on Thursday?
> Reply yes and we'll book it.
"""


async def test_a_reply_to_the_reply_address_threads_and_loses_its_quotes(
    mailroom: Mailroom,
) -> None:
    address = mailroom.conversation()
    conversation = mailroom.ids.conversation_of(address)
    email = reply(QUOTED_REPLY, To=address)

    assert await mailroom.send(email, to=address) == (250, "2.0.0 OK: queued")

    (received,) = mailroom.sink.inbound_messages
    assert received.body == "Yes, Thursday works for me."
    assert received.provider == "smtp"
    assert received.provider_message_id == email["Message-ID"].strip("<>")
    assert (received.channel, received.sender, received.recipient) == (
        Channel.EMAIL,
        CONSUMER,
        address,
    )
    (parsed,) = mailroom.parsed
    assert parsed.thread.conversation_id == conversation
    assert parsed.thread.token is TokenCheck.VALID
    assert parsed.subject == "Re: Message from Maison Lumière"


async def test_a_reply_to_the_brand_address_threads_by_in_reply_to(mailroom: Mailroom) -> None:
    ours = uuid.uuid4()
    older = uuid.uuid4()
    email = reply(
        "Sounds good\n\n> quoted without any header\n> still quoted",
        In_Reply_To=f"<{ours}@{DOMAIN}>",
        References=f"<{older}@{DOMAIN}> <x@elsewhere.example> <{ours}@{DOMAIN}>",
    )

    assert (await mailroom.send(email))[0] == 250

    assert mailroom.sink.inbound_messages[0].body == "Sounds good"
    hint = mailroom.parsed[0].thread
    assert hint.replied_to == (f"{ours}@{DOMAIN}", f"{older}@{DOMAIN}")
    assert (hint.conversation_id, hint.token) == (None, TokenCheck.ABSENT)


async def test_a_forged_reply_address_is_refused_in_the_transaction_and_recorded(
    mailroom: Mailroom,
) -> None:
    genuine = mailroom.conversation()
    local, _, domain = genuine.partition("@")
    tampered = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    other_secret = ReplyDomain(DOMAIN, "another-secret-entirely-0123456").reply_to(uuid.uuid4())

    for address in (tampered, other_secret):
        code, text = await mailroom.send(reply("hello", To=address), to=address)
        # what the sender's server quotes in the bounce it sends them
        assert (code, text.split()[0]) == (550, "5.7.1")
        assert "write to the brand's own address instead" in text

    assert [p.thread.token for p in mailroom.parsed] == [TokenCheck.FORGED] * 2
    assert mailroom.sink.inbound_messages == []
    assert [(r.provider, r.reason) for r in mailroom.sink.refusals] == [
        ("smtp", "forged reply address")
    ] * 2
    assert mailroom.sink.refusals[0].detail == f"{tampered}: its signature does not hold"
    assert "hello" in mailroom.sink.refusals[0].raw  # their message is kept, not lost


async def test_a_reply_address_is_only_for_the_conversations_contact(
    mailroom: Mailroom,
) -> None:
    address = mailroom.conversation(contact=CONSUMER)
    stranger = "mallory@example.net"
    email = reply("Let me in", To=address, From=f"Mallory <{stranger}>")

    code, text = await mailroom.send(email, to=address, sender=stranger)

    assert (code, text.split()[0]) == (550, "5.7.1")
    assert "Only the person this conversation is with may write" in text
    assert mailroom.sink.inbound_messages == []
    (refusal,) = mailroom.sink.refusals
    assert refusal.reason == "not the conversation's contact"
    conversation = mailroom.ids.conversation_of(address)
    assert refusal.detail == f"{stranger} is not the contact of conversation {conversation}"
    # The contact, writing to the same address, is taken.
    assert (await mailroom.send(reply("Me again", To=address), to=address))[0] == 250
    assert [m.body for m in mailroom.sink.inbound_messages] == ["Me again"]


async def test_a_refusal_of_a_stranger_that_cannot_be_recorded_is_answered_451(
    mailroom: Mailroom,
) -> None:
    address = mailroom.conversation()
    email = reply("hello", To=address, From="mallory@example.net")
    mailroom.sink.down = True
    assert (await mailroom.send(email, to=address))[0] == 451
    mailroom.sink.down = False
    assert (await mailroom.send(email, to=address))[0] == 550
    assert [r.reason for r in mailroom.sink.refusals] == ["not the conversation's contact"]


async def test_a_reply_address_signed_with_the_previous_secret_still_threads() -> None:
    conversation = uuid.uuid4()
    old = ReplyDomain(DOMAIN, "the-old-secret-0123456789").reply_to(conversation)
    rotated = ReplyDomain(DOMAIN, SECRET, ["the-old-secret-0123456789"])
    assert rotated.conversation_of(old) == conversation
    assert ReplyDomain(DOMAIN, SECRET).conversation_of(old) is None


async def test_an_unknown_recipient_is_refused_at_rcpt(mailroom: Mailroom) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(
            reply("hello"),
            hostname="127.0.0.1",
            port=mailroom.server.port,
            recipients=["nobody@maison-lumiere.example"],
            start_tls=False,
        )
    assert refused.value.recipients[0].code == 550
    assert refused.value.recipients[0].message.startswith("5.1.1")
    assert mailroom.sink.inbound_messages == []


async def test_a_second_recipient_waits_for_its_own_transaction(mailroom: Mailroom) -> None:
    errors, _ = await aiosmtplib.send(
        reply("hello"),
        hostname="127.0.0.1",
        port=mailroom.server.port,
        recipients=[BRAND, mailroom.conversation()],
        start_tls=False,
    )
    assert [response.code for response in errors.values()] == [452]
    assert [m.recipient for m in mailroom.sink.inbound_messages] == [BRAND]


OVERSIZED = reply("x" * 100 + "\n" + ("y" * 76 + "\n") * 1000)  # ~77 KiB over a 64 KiB limit


async def test_an_oversized_email_is_refused_with_552_and_recorded(mailroom: Mailroom) -> None:
    assert (await mailroom.send(OVERSIZED))[0] == 552

    # A client that declares the size is refused before it sends anything.
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await aiosmtplib.send(
            OVERSIZED, hostname="127.0.0.1", port=mailroom.server.port, start_tls=False
        )
    assert refused.value.code == 552
    assert mailroom.sink.inbound_messages == []

    sent, declared = mailroom.sink.refusals
    assert (sent.provider, sent.reason, declared.reason) == (
        "smtp",
        "oversized email",
        "oversized email",
    )
    # aiosmtpd dropped the data as it came: what is kept of it is its envelope.
    assert sent.detail == "more data than the limit of 65536 bytes"
    assert sent.raw == f"MAIL FROM:<{CONSUMER}>\r\nRCPT TO:<{BRAND}>\r\n"
    assert declared.detail == "declared SIZE over the limit of 65536 bytes"
    assert declared.raw.startswith(f"MAIL FROM:<{CONSUMER}> size=")  # the size it declared


async def test_a_line_longer_than_smtp_allows_is_refused_and_recorded(mailroom: Mailroom) -> None:
    email = reply("short first line")
    raw = email.as_bytes().replace(b"short first line", b"z" * 2000)
    assert (await mailroom.send(raw))[0] == 500
    (refusal,) = mailroom.sink.refusals
    assert (refusal.reason, refusal.raw) == (
        "malformed email",
        f"MAIL FROM:<{CONSUMER}>\r\nRCPT TO:<{BRAND}>\r\n",
    )
    assert mailroom.sink.inbound_messages == []


async def test_a_refusal_that_cannot_be_recorded_is_answered_451(mailroom: Mailroom) -> None:
    """Refused for good only once recorded: until then, the sending server tries again."""
    malformed = b"this is not an email\r\n"
    mailroom.sink.down = True
    assert (await mailroom.send(malformed))[0] == 451
    assert (await mailroom.send(OVERSIZED))[0] == 451
    assert mailroom.sink.refusals == []

    mailroom.sink.down = False
    assert (await mailroom.send(malformed))[0] == 550
    assert (await mailroom.send(OVERSIZED))[0] == 552
    assert [r.reason for r in mailroom.sink.refusals] == ["malformed email", "oversized email"]


def bounce(*, envelope_id: str, returned_message_id: str, action: str = "failed") -> bytes:
    return f"""From: Mail Delivery System <MAILER-DAEMON@relay.example>
To: bounces@{DOMAIN}
Subject: Undelivered Mail Returned to Sender
Message-ID: <{uuid.uuid4().hex}@relay.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="REPORT"

--REPORT
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--REPORT
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example
{f"Original-Envelope-Id: {envelope_id}" if envelope_id else "X-No-Envid: yes"}
Arrival-Date: Thu, 3 Apr 2025 10:12:00 +0200

Final-Recipient: rfc822; {CONSUMER}
Action: {action}
Status: {"5.1.1" if action == "failed" else "2.0.0"}
Diagnostic-Code: smtp; {"550 5.1.1 user" if action == "failed" else "250 2.0.0"}
    {"unknown" if action == "failed" else "ok"}

--REPORT
Content-Type: text/rfc822-headers

From: {BRAND}
To: {CONSUMER}
Subject: Message from Maison Lumiere
Message-ID: <{returned_message_id}>

--REPORT--
""".encode()


async def test_a_bounce_for_our_message_is_a_failed_receipt(
    relay: tuple[Relay, int], mailroom: Mailroom
) -> None:
    handler, port = relay
    message = outbound()
    accepted = await EmailProvider(settings(port)).send(message)
    (envid,) = [p for p in handler.mail_params[-1] if p.startswith("ENVID=")]
    bounced = bounce(envelope_id=envid.removeprefix("ENVID="), returned_message_id="lost@x.y")

    answer = await mailroom.send(bounced, to=f"bounces@{DOMAIN}", sender="")

    assert answer[0] == 250
    assert mailroom.sink.receipts == [
        RecordReceipt(
            provider="smtp",
            provider_message_id=accepted.provider_message_id,
            status=MessageStatus.FAILED,
            reason="5.1.1 user unknown",
        )
    ]
    assert mailroom.sink.inbound_messages == []


async def test_a_bounce_is_matched_by_the_returned_headers_without_an_envelope_id(
    mailroom: Mailroom,
) -> None:
    ours = uuid.uuid4()
    await mailroom.send(bounce(envelope_id="", returned_message_id=f"{ours}@{DOMAIN}"), sender="")
    await mailroom.send(
        bounce(envelope_id="", returned_message_id=f"{ours}@{DOMAIN}", action="delivered")
    )
    await mailroom.send(bounce(envelope_id="", returned_message_id="theirs@else.example"))

    assert [(r.provider_message_id, r.status) for r in mailroom.sink.receipts] == [
        (f"{ours}@{DOMAIN}", MessageStatus.FAILED),
        (f"{ours}@{DOMAIN}", MessageStatus.DELIVERED),
    ]
    assert mailroom.parsed[-1].ignored == "a delivery report about a message we did not send"
    assert mailroom.sink.inbound_messages == []


async def test_a_malformed_email_is_refused_and_the_server_goes_on(mailroom: Mailroom) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=mailroom.server.port, start_tls=False)
    async with client:
        await client.mail(CONSUMER)
        await client.rcpt(BRAND)
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(b"this is not an email: no headers, no sender\r\n\x00\xff\r\n")
        assert refused.value.code == 550
        assert refused.value.message.startswith("5.6.0")

        # The same connection takes the next, valid email.
        await client.mail(CONSUMER)
        await client.rcpt(BRAND)
        assert (await client.data(reply("still here").as_bytes())).code == 250

    assert [m.body for m in mailroom.sink.inbound_messages] == ["still here"]
    (refusal,) = mailroom.sink.refusals
    assert (refusal.provider, refusal.reason) == ("smtp", "malformed email")
    assert refusal.detail
    assert refusal.detail in refused.value.message
    # what was sent, bytes that are not UTF-8 included
    assert refusal.raw == "this is not an email: no headers, no sender\r\n\x00\\xff\r\n"


async def test_nothing_is_acknowledged_before_the_sink_has_it(mailroom: Mailroom) -> None:
    email = reply("are you there?")
    mailroom.sink.down = True
    code, message = await mailroom.send(email)
    assert (code, message.split()[0]) == (451, "4.3.0")

    mailroom.sink.down = False
    assert (await mailroom.send(email))[0] == 250  # the sending server's retry
    assert [m.body for m in mailroom.sink.inbound_messages] == ["are you there?"]


async def test_attachments_are_recorded_as_metadata(mailroom: Mailroom) -> None:
    invoice = b"%PDF-1.4\n" + bytes(range(256)) * 20
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500
    email = reply("Here is the invoice and a photo of the parcel.")
    email.add_attachment(invoice, maintype="application", subtype="pdf", filename="facture.pdf")
    email.add_attachment(photo, maintype="image", subtype="png", filename="colis.png")

    assert (await mailroom.send(email))[0] == 250

    expected = [
        ("facture.pdf", "application/pdf", len(invoice), hashlib.sha256(invoice).hexdigest()),
        ("colis.png", "image/png", len(photo), hashlib.sha256(photo).hexdigest()),
    ]
    (parsed,) = mailroom.parsed
    assert [(a.filename, a.content_type, a.size, a.sha256) for a in parsed.attachments] == expected
    # ...and they reach the core with the message, with its subject.
    (received,) = mailroom.sink.inbound_messages
    assert received.body == "Here is the invoice and a photo of the parcel."
    assert [(a.filename, a.content_type, a.size, a.sha256) for a in received.attachments] == (
        expected
    )
    assert received.subject == "Re: Message from Maison Lumière"
    assert received.automatic is False


@pytest.mark.parametrize(
    ("headers", "sender", "automatic"),
    [
        ({"Auto-Submitted": "auto-replied"}, CONSUMER, True),  # RFC 3834
        ({"Auto-Submitted": "auto-generated; owner-email=x@example.org"}, CONSUMER, True),
        ({"Precedence": "auto_reply"}, CONSUMER, True),
        ({"Precedence": "bulk"}, CONSUMER, True),
        ({"X-Autoreply": "yes"}, CONSUMER, True),
        ({"X-Autogenerated": "Reply"}, CONSUMER, True),
        ({}, "", True),  # MAIL FROM:<>, as RFC 3834 asks of automatic responses
        ({"Auto-Submitted": "no"}, CONSUMER, False),
        ({"X-Auto-Response-Suppress": "All"}, CONSUMER, False),  # a person's Outlook
        ({}, CONSUMER, False),
    ],
)
async def test_an_automatic_reply_is_marked_automatic(
    mailroom: Mailroom, headers: dict[str, str], sender: str, automatic: bool
) -> None:
    email = reply("I am out of the office until Monday.")
    for name, value in headers.items():
        email[name] = value

    assert (await mailroom.send(email, sender=sender))[0] == 250

    (received,) = mailroom.sink.inbound_messages
    assert received.automatic is automatic


async def test_an_html_only_reply_is_read_without_its_quoted_history(mailroom: Mailroom) -> None:
    email = reply("")
    email.set_content(
        "<html><head><style>p{color:red}</style></head><body>"
        "<div dir='ltr'>Thursday is <b>perfect</b>.<br>Thanks &amp; see you</div>"
        "<div class='gmail_quote'><div>On Thu wrote:</div>"
        "<blockquote>Can we deliver on Thursday?</blockquote></div>"
        "</body></html>",
        subtype="html",
    )

    assert (await mailroom.send(email))[0] == 250

    assert mailroom.sink.inbound_messages[0].body == "Thursday is perfect.\nThanks & see you"


async def test_a_french_reply_keeps_its_list_and_loses_the_quoted_history(
    mailroom: Mailroom,
) -> None:
    text = (
        "Il me faut :\n- 2 chaises\n- 1 table\n\n"
        "Le jeu. 3 avr. 2025 à 10:12, Maison Lumière <bonjour@maison-lumiere.example> a écrit :\n"
        "> Que souhaitez-vous commander ?\n"
    )
    assert (await mailroom.send(reply(text)))[0] == 250

    assert mailroom.sink.inbound_messages[0].body == "Il me faut :\n- 2 chaises\n- 1 table"
    assert "Que souhaitez-vous commander ?" in mailroom.parsed[0].full_text
