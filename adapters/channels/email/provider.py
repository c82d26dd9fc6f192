"""The email channel: out through an SMTP relay (aiosmtplib), in through our own SMTP
server (aiosmtpd) that takes the consumers' replies and the relays' bounces.

Threading is what makes email a conversation: each message we send carries a Message-ID
made from our message id and a signed per-conversation Reply-To, so an answer finds its
conversation even when the mail client drops the threading headers.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, AnyStr
from uuid import UUID

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.channels.email.ids import xtext
from adapters.channels.email.parsing import PROVIDER, MalformedEmail, ParsedEmail, parse_inbound
from adapters.channels.email.settings import EmailSettings
from adapters.channels.port import (
    Accepted,
    ChannelRefusal,
    ChannelSink,
    OutboundMessage,
    PermanentFailure,
    TemporaryFailure,
)
from domain.channels import Channel
from domain.commands import ReceiveMessage, RecordReceipt

log = logging.getLogger(__name__)

ThreadLookup = Callable[[UUID], Awaitable[Sequence[str]]]
BrandNames = Callable[[UUID], str | None]
Accepts = Callable[[str], bool | Awaitable[bool]]
MAX_REFERENCES = 20  # the newest ones: enough for any client to thread
_MESSAGE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_HTML = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
    '<body><div style="font-family:sans-serif;font-size:15px;line-height:1.5">\n'
    "{body}\n</div></body></html>\n"
)


class EmailProvider:
    """The channel port for ``Channel.EMAIL``.

    ``threads`` gives the Message-IDs already exchanged in a conversation (oldest first),
    for In-Reply-To and References; ``brand_names`` a brand's display name, which must not
    block (a cache). With ``accepts``, ``start`` also runs the inbound server.
    """

    def __init__(
        self,
        settings: EmailSettings,
        *,
        threads: ThreadLookup | None = None,
        brand_names: BrandNames | None = None,
        accepts: Accepts | None = None,
        observe: Callable[[ParsedEmail], None] | None = None,
    ) -> None:
        self.name = PROVIDER
        self.settings = settings
        self.ids = settings.reply_domain_ids()
        self.threads = threads
        self.brand_names = brand_names
        self.accepts = accepts
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
                self.settings, sink, self.accepts, observe=self.observe
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
        previous = [] if self.threads is None else await self.threads(message.conversation_id)
        references = [f"<{ref}>" for ref in _message_ids(previous) if ref != own_id]
        brand = (self.brand_names(message.brand_id) if self.brand_names else None) or ""
        subject = self.settings.subject.format(brand=brand or message.sender.rpartition("@")[2])
        email = EmailMessage()
        try:
            email["From"] = Address(display_name=brand, addr_spec=message.sender)
            email["To"] = Address(addr_spec=message.recipient)
        except (ValueError, IndexError) as exc:
            raise PermanentFailure(f"cannot address the email: {exc}") from None
        email["Subject"] = f"Re: {subject}" if references else subject
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = f"<{own_id}>"
        email["Reply-To"] = self.ids.reply_to(message.conversation_id)
        if references:
            email["In-Reply-To"] = references[-1]
            email["References"] = " ".join(references[-MAX_REFERENCES:])
        email.set_content(message.body)
        email.add_alternative(
            _HTML.format(body=html.escape(message.body).replace("\n", "<br>\n")), subtype="html"
        )
        return email

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
                f"relay refused us: {exc.code} {_one_line(exc.message)}"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _failure(exc.code, exc.message) from None
        except ValueError as exc:  # an address the SMTP command line cannot carry
            raise PermanentFailure(f"cannot address the email: {exc}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"relay unreachable: {exc}") from None


class InboundEmailServer:
    """Our MX for the reply domain: aiosmtpd served from the running loop.

    One recipient per transaction (others get 452 and come in their own), so one email
    is one record, and 250 is said only once the sink has it on the bus. An email that
    cannot become a message gets 550 5.6.0 (its sender is told by their server), one over
    the size limit 552, each once the sink recorded the refusal; an unexpected error gets
    451, and the sending server tries again later.
    """

    def __init__(
        self,
        settings: EmailSettings,
        sink: ChannelSink,
        accepts: Accepts,
        *,
        observe: Callable[[ParsedEmail], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.accepts = accepts
        self.observe = observe
        self.ids = settings.reply_domain_ids()
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the inbound email server is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self._session(loop), self.settings.inbound_host, self.settings.inbound_port
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await self._server.wait_closed()
        self._server = None

    def _session(self, loop: asyncio.AbstractEventLoop) -> SMTP:
        session = _Session(
            self,
            data_size_limit=self.settings.data_size_limit,
            enable_SMTPUTF8=True,
            hostname=self.settings.reply_domain,
            ident="Chainon",
            loop=loop,
        )
        self._sessions.add(session)
        return session

    # aiosmtpd's handler hooks

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if envelope.rcpt_tos:
            return "452 4.5.3 One recipient per message here, send the others separately"
        try:
            accepted = self.accepts(address)
            if inspect.isawaitable(accepted):
                accepted = await accepted
        except Exception as exc:
            return await self.handle_exception(exc)
        if not accepted:
            log.info("email: unknown recipient refused (peer %s)", session.peer)
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        # Answered here whatever happens: an exception would leave aiosmtpd's envelope set.
        try:
            return await self._take(session, envelope)
        except Exception as exc:
            return await self.handle_exception(exc)

    async def _take(self, session: Session, envelope: Envelope) -> str:
        try:
            parsed = await asyncio.to_thread(  # regex work, kept off the loop
                parse_inbound,
                envelope.original_content or b"",
                recipient=envelope.rcpt_tos[0],
                ids=self.ids,
                languages=self.settings.languages,
            )
        except MalformedEmail as exc:
            content = envelope.original_content or b""
            await self.refuse(session, "malformed email", exc.reason, content)
            return f"550 5.6.0 Unreadable email: {_one_line(exc.reason)}"
        if self.observe is not None:
            self.observe(parsed)
        if isinstance(parsed.command, ReceiveMessage):
            await self.sink.inbound(parsed.command)
        elif isinstance(parsed.command, RecordReceipt):
            await self.sink.receipt(parsed.command)
        else:
            log.info("email: not recorded (%s): %s", parsed.provider_message_id, parsed.ignored)
        return "250 2.0.0 OK: queued"

    async def handle_exception(self, error: Exception) -> str:
        log.error("email: inbound server error, asking to retry: %r", error, exc_info=error)
        return "451 4.3.0 Temporary failure, try again later"

    async def refuse(self, session: Session, reason: str, detail: str, raw: bytes | str) -> None:
        """Logs and records an email we refuse; returns once the sink has the record."""
        log.warning("email: refused, %s (peer %s): %s", reason, session.peer, detail)
        # backslashreplace: bytes that are not UTF-8 stay visible as \xNN, not as "\ufffd"
        text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="backslashreplace")
        refusal = ChannelRefusal(
            provider=PROVIDER, reason=reason, detail=detail, raw=text, at=datetime.now(UTC)
        )
        await self.sink.refused(refusal)


class _Session(SMTP):
    """aiosmtpd answers some emails itself, never calling ``handle_DATA``: 552 to a declared
    SIZE over the limit (at MAIL FROM) and to more data than the limit (at the end of DATA,
    the data dropped as it came, so that no email can fill our memory), 500 to a line longer
    than SMTP allows. Those answers all go through ``push``, where the refusal is recorded
    before they are sent, as ``handle_DATA`` does; the data is gone, the envelope is kept.
    """

    def __init__(self, server: InboundEmailServer, **options: Any) -> None:
        super().__init__(server, **options)
        self.server = server
        self._command: str | None = None  # the MAIL or DATA command being handled

    async def smtp_MAIL(self, arg: str | None) -> None:  # noqa: N802 (aiosmtpd's name)
        self._command = f"MAIL {arg}"
        try:
            await super().smtp_MAIL(arg)
        finally:
            self._command = None

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 (aiosmtpd's name)
        self._command = "DATA"
        try:
            await super().smtp_DATA(arg)
        finally:
            self._command = None

    async def push(self, status: AnyStr) -> None:
        text = status if isinstance(status, str) else status.decode("utf-8", errors="replace")
        refusal = self._refusal(text)
        if refusal is None or self.session is None:
            await super().push(status)
            return
        try:
            await self.server.refuse(self.session, *refusal)
        except Exception as exc:  # not recorded: the sending server must try again
            text = await self.server.handle_exception(exc)
        await super().push(text)

    def _refusal(self, status: str) -> tuple[str, str, str] | None:
        """(reason, detail, raw) when ``status`` is aiosmtpd refusing the email itself."""
        command, limit = self._command, self.data_size_limit
        if command is None:
            return None
        if command != "DATA":
            if status.startswith("552"):
                return "oversized email", f"declared SIZE over the limit of {limit} bytes", command
            return None
        raw = "" if self.envelope is None else _envelope_lines(self.envelope)
        if status.startswith("552"):
            return "oversized email", f"more data than the limit of {limit} bytes", raw
        if status.startswith("500 Line too long"):
            return "malformed email", "a line longer than SMTP allows (RFC 5321 4.5.3.1.6)", raw
        return None


def _envelope_lines(envelope: Envelope) -> str:
    recipients = "".join(f"RCPT TO:<{rcpt}>\r\n" for rcpt in envelope.rcpt_tos)
    return f"MAIL FROM:<{envelope.mail_from or ''}>\r\n{recipients}"


def _failure(code: int, message: str) -> PermanentFailure | TemporaryFailure:
    reason = f"{code} {_one_line(message)}"
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


def _message_ids(refs: Sequence[str]) -> list[str]:
    bare = (ref.strip().strip("<>") for ref in refs)
    return [ref for ref in bare if _MESSAGE_ID.fullmatch(ref)]


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


__all__ = ["EmailProvider", "EmailSettings", "InboundEmailServer", "ParsedEmail"]
