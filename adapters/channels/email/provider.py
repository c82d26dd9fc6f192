"""The email channel: out through an SMTP relay (aiosmtplib), in through our own SMTP
server (aiosmtpd) that takes the consumers' replies and the relays' bounces.

Threading is what makes email a conversation: each message we send carries a Message-ID
made from our message id and a signed per-conversation Reply-To, so an answer finds its
conversation even when the mail client drops the threading headers.
"""

from __future__ import annotations

import html
import inspect
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from uuid import UUID

import aiosmtplib

from chainon.adapters.channels.email.ids import xtext
from chainon.adapters.channels.email.inbound import Accepts, InboundEmailServer, IsContact
from chainon.adapters.channels.email.parsing import PROVIDER, ParsedEmail
from chainon.adapters.channels.email.settings import EmailSettings
from chainon.adapters.channels.email.text import one_line
from chainon.adapters.channels.email.threads import EmailThread, subject_for
from chainon.adapters.channels.email.unsubscribe import ONE_CLICK, POLICY, UnsubscribeLinks
from chainon.adapters.channels.port import (
    Accepted,
    ChannelSink,
    OutboundMessage,
    PermanentFailure,
    TemporaryFailure,
)
from chainon.domain.channels import Channel
from chainon.domain.purpose import Purpose

ThreadLookup = Callable[[UUID], Awaitable[EmailThread]]
BrandNames = Callable[[UUID], str | Awaitable[str | None] | None]
MAX_REFERENCES = 20  # the newest ones: enough for any client to thread
_MESSAGE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_HTML = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
    '<body><div style="font-family:sans-serif;font-size:15px;line-height:1.5">\n'
    "{body}\n</div></body></html>\n"
)


class EmailProvider:
    """The channel port for ``Channel.EMAIL``.

    ``threads`` tells what the conversation's emails were (Message-IDs for In-Reply-To and
    References, the subject it goes by); ``brand_names`` a brand's name, shown as the
    sender's. With ``accepts``, ``start`` also runs the inbound server, which refuses a
    reply to a conversation's address from anybody but its contact (``is_contact``).

    A marketing email carries ``List-Unsubscribe`` and RFC 8058's one-click
    ``List-Unsubscribe-Post``, signed by ``unsubscribe``; without it, a marketing email is
    refused for good rather than sent without its way out. Service and conversational
    emails carry none: they are what the contact asked for (an order, a reply), as
    transactional senders do.
    """

    def __init__(
        self,
        settings: EmailSettings,
        *,
        threads: ThreadLookup | None = None,
        brand_names: BrandNames | None = None,
        accepts: Accepts | None = None,
        is_contact: IsContact | None = None,
        observe: Callable[[ParsedEmail], None] | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
    ) -> None:
        self.name = PROVIDER
        self.unsubscribe = unsubscribe
        self.settings = settings
        self.ids = settings.reply_domain_ids()
        self.threads = threads
        self.brand_names = brand_names
        self.accepts = accepts
        self.is_contact = is_contact
        self.observe = observe
        self.inbound: InboundEmailServer | None = None
        # A record redelivered to this process is not mailed twice; after a restart the
        # same Message-ID lets the receiving side drop the copy.
        self._sent: OrderedDict[UUID, Accepted] = OrderedDict()

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset({Channel.EMAIL})

    async def start(self, sink: ChannelSink) -> None:
        if self.accepts is not None:
            self.inbound = InboundEmailServer(
                self.settings, sink, self.accepts, is_contact=self.is_contact, observe=self.observe
            )
            await self.inbound.start()

    async def stop(self) -> None:
        if self.inbound is not None:
            await self.inbound.stop()
            self.inbound = None

    async def send(self, message: OutboundMessage) -> Accepted:
        if message.channel is not Channel.EMAIL:
            raise PermanentFailure(f"the smtp provider does not send {message.channel.value}")
        if message.message_id in self._sent:
            return self._sent[message.message_id]
        own_id = self.ids.message_id(message.message_id)
        await self._submit(await self.compose(message), message.recipient, own_id)
        accepted = Accepted(provider=self.name, provider_message_id=own_id)
        self._sent[message.message_id] = accepted
        while len(self._sent) > 10_000:
            self._sent.popitem(last=False)
        return accepted

    async def compose(self, message: OutboundMessage) -> EmailMessage:
        """The email for a message; the same message always gets the same Message-ID."""
        own_id = self.ids.message_id(message.message_id)
        thread = (
            EmailThread() if self.threads is None else await self.threads(message.conversation_id)
        )
        references = [f"<{ref}>" for ref in _message_ids(thread.message_ids) if ref != own_id]
        brand = await self._brand_name(message.brand_id)
        subject = subject_for(
            thread,
            template=self.settings.subject,
            brand=brand or message.sender.rpartition("@")[2],
            body=message.body,
            answering=bool(references),
        )
        email = EmailMessage(policy=POLICY)
        try:
            email["From"] = Address(display_name=brand, addr_spec=message.sender)
            email["To"] = Address(addr_spec=message.recipient)
        except (ValueError, IndexError) as exc:
            raise PermanentFailure(f"cannot address the email: {exc}") from None
        email["Subject"] = subject
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = f"<{own_id}>"
        email["Reply-To"] = self.ids.reply_to(message.conversation_id)
        if message.purpose == Purpose.MARKETING:
            email["List-Unsubscribe"] = self._unsubscribe_header(message, email["Reply-To"])
            email["List-Unsubscribe-Post"] = ONE_CLICK
        if references:
            email["In-Reply-To"] = references[-1]
            email["References"] = " ".join(references[-MAX_REFERENCES:])
        email.set_content(message.body)
        email.add_alternative(
            _HTML.format(body=html.escape(message.body).replace("\n", "<br>\n")), subtype="html"
        )
        return email

    def _unsubscribe_header(self, message: OutboundMessage, reply_to: str) -> str:
        if self.unsubscribe is None:
            raise PermanentFailure(
                "a marketing email must carry List-Unsubscribe (RFC 8058), and no unsubscribe"
                " link is configured: set CHAINON_PUBLIC_URL (and, with Kafka,"
                " CHAINON_UNSUBSCRIBE_SECRET)"
            )
        return self.unsubscribe.header(
            message.brand_id, message.recipient, Purpose.MARKETING, mailto=reply_to
        )

    async def _brand_name(self, brand_id: UUID) -> str:
        if self.brand_names is None:
            return ""
        name = self.brand_names(brand_id)
        if inspect.isawaitable(name):
            name = await name
        return " ".join((name or "").split())  # a display name is one line

    async def _submit(self, email: EmailMessage, recipient: str, own_id: str) -> None:
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.relay_host,
            port=settings.relay_port,
            timeout=settings.timeout,
            start_tls=settings.starttls,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            local_hostname=settings.reply_domain,
        )
        try:
            async with client:
                if client.is_ehlo_or_helo_needed:
                    try:
                        await client.ehlo()
                    except aiosmtplib.SMTPHeloError:
                        await client.helo()
                # Relays that speak DSN name our message in their bounces.
                envid = xtext(own_id)
                dsn = client.supports_extension("dsn") and len(envid) <= 100  # RFC 3461
                options = [f"ENVID={envid}", "RET=HDRS"] if dsn else []
                await client.send_message(
                    email,
                    sender=self.ids.bounce_address,
                    recipients=[recipient],
                    mail_options=options,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            raise _failure(refusal.code, refusal.message) from None
        except (
            aiosmtplib.SMTPConnectResponseError,
            aiosmtplib.SMTPHeloError,
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPSenderRefused,
        ) as exc:
            # The relay refuses us (greeting, login, bounce address), not this message: once
            # the settings are fixed, the retry goes out.
            raise TemporaryFailure(
                f"relay refused us: {exc.code} {one_line(exc.message)}"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _failure(exc.code, exc.message) from None
        except ValueError as exc:  # an address the SMTP command line cannot carry
            raise PermanentFailure(f"cannot address the email: {exc}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"relay unreachable: {exc}") from None


def _failure(code: int, message: str) -> PermanentFailure | TemporaryFailure:
    reason = f"{code} {one_line(message)}"
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


def _message_ids(refs: Sequence[str]) -> list[str]:
    bare = (ref.strip().strip("<>") for ref in refs)
    return [ref for ref in bare if _MESSAGE_ID.fullmatch(ref)]


__all__ = ["EmailProvider", "EmailSettings", "InboundEmailServer", "ParsedEmail"]
