"""Our own SMTP server (aiosmtpd): it takes the consumers' replies and the relays' bounces.

Everything it refuses, it refuses during the SMTP transaction, so that the sending server
tells its sender in a bounce; and it records each refusal before answering, so nobody's
message is lost to a log line.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, AnyStr
from uuid import UUID

from aiosmtpd.smtp import SMTP, Envelope, Session

from chainon.adapters.channels.email.parsing import (
    PROVIDER,
    MalformedEmail,
    ParsedEmail,
    TokenCheck,
    parse_inbound,
)
from chainon.adapters.channels.email.settings import EmailSettings
from chainon.adapters.channels.email.text import one_line
from chainon.adapters.channels.port import ChannelRefusal, ChannelSink
from chainon.domain.commands import ReceiveMessage, RecordReceipt

log = logging.getLogger(__name__)

Accepts = Callable[[str], bool | Awaitable[bool]]
# Whether an address is the contact of a conversation (the core's answer).
IsContact = Callable[[UUID, str], Awaitable[bool]]

FORGED = (
    "550 5.7.1 This reply address was not issued by us (its signature does not match); "
    "write to the brand's own address instead"
)
STRANGER = (
    "550 5.7.1 Only the person this conversation is with may write to this reply address; "
    "write to the brand's own address instead"
)


class InboundEmailServer:
    """Our MX for the reply domain: aiosmtpd served from the running loop.

    One recipient per transaction (others get 452 and come in their own), so one email
    is one record, and 250 is said only once the sink has it on the bus. An email that
    cannot become a message gets 550 5.6.0 (its sender is told by their server), one over
    the size limit 552, each once the sink recorded the refusal; an unexpected error gets
    451, and the sending server tries again later.

    A reply address is a conversation's own: one whose signature does not hold, or a
    reply to it from someone who is not the conversation's contact (``is_contact``), gets
    550 5.7.1 with the reason, recorded like the other refusals.
    """

    def __init__(
        self,
        settings: EmailSettings,
        sink: ChannelSink,
        accepts: Accepts,
        *,
        is_contact: IsContact | None = None,
        observe: Callable[[ParsedEmail], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.accepts = accepts
        self.is_contact = is_contact
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
        content = envelope.original_content or b""
        try:
            parsed = await asyncio.to_thread(  # regex work, kept off the loop
                parse_inbound,
                content,
                recipient=envelope.rcpt_tos[0],
                ids=self.ids,
                languages=self.settings.languages,
                null_sender=not (envelope.mail_from or "").strip("<>"),
            )
        except MalformedEmail as exc:
            await self.refuse(session, "malformed email", exc.reason, content)
            return f"550 5.6.0 Unreadable email: {one_line(exc.reason)}"
        if self.observe is not None:
            self.observe(parsed)
        refusal = await self._not_theirs(parsed)
        if refusal is not None:
            reason, detail, answer = refusal
            await self.refuse(session, reason, detail, content)
            return answer
        if isinstance(parsed.command, ReceiveMessage):
            await self.sink.inbound(parsed.command)
        elif isinstance(parsed.command, RecordReceipt):
            await self.sink.receipt(parsed.command)
        else:
            log.info("email: not recorded (%s): %s", parsed.provider_message_id, parsed.ignored)
        return "250 2.0.0 OK: queued"

    async def _not_theirs(self, parsed: ParsedEmail) -> tuple[str, str, str] | None:
        """(reason, detail, answer) when the email is sent to a reply address it may not use."""
        thread = parsed.thread
        if thread.token is TokenCheck.FORGED:
            detail = f"{parsed.recipient}: its signature does not hold"
            return "forged reply address", detail, FORGED
        conversation = thread.conversation_id
        if thread.token is not TokenCheck.VALID or conversation is None:
            return None
        if self.is_contact is None or await self.is_contact(conversation, parsed.sender):
            return None
        detail = f"{parsed.sender} is not the contact of conversation {conversation}"
        return "not the conversation's contact", detail, STRANGER

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
