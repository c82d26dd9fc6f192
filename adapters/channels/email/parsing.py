"""An inbound email, read into what the core needs: the new text, the thread it answers,
its attachments (as metadata), or the delivery report it carries.

Everything a mail client quotes or signs is stripped, so an agent reads only what the
consumer wrote this time. A delivery status notification about one of our messages becomes
a receipt, never a message from the consumer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from enum import StrEnum
from uuid import UUID

from pydantic import ValidationError

from chainon.adapters.channels.email.ids import ReplyDomain
from chainon.adapters.channels.email.reports import delivery_report, is_delivery_report
from chainon.adapters.channels.email.text import html_to_text, strip_reply
from chainon.domain.attachments import MAX_ATTACHMENTS, Attachment
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt

PROVIDER = "smtp"
MAX_BODY = 200_000  # ReceiveMessage's limit


class MalformedEmail(Exception):
    """The email cannot become an inbound message (refused at the end of DATA)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenCheck(StrEnum):
    ABSENT = "absent"  # not sent to a reply address
    VALID = "valid"
    FORGED = "forged"  # a reply address whose signature does not hold: no thread from it


@dataclass(frozen=True)
class ThreadHint:
    """Which conversation the email answers, as far as the email itself can tell."""

    conversation_id: UUID | None = None  # from a reply address whose signature holds
    # Our provider ids (RecordSent's) named by In-Reply-To, then References, newest first.
    replied_to: tuple[str, ...] = ()
    token: TokenCheck = TokenCheck.ABSENT


@dataclass(frozen=True)
class ParsedEmail:
    """One inbound email; ``command`` is what reaches the core (None: nothing to record)."""

    provider_message_id: str
    sender: str
    recipient: str
    subject: str
    body: str
    command: ReceiveMessage | RecordReceipt | None
    thread: ThreadHint = ThreadHint()
    attachments: tuple[Attachment, ...] = ()
    auto_submitted: bool = False  # an out-of-office or other robot reply
    ignored: str = ""  # why there is no command
    full_text: str = field(default="", repr=False)  # before quotes and signature went
    defects: tuple[str, ...] = field(default=(), repr=False)


def parse_inbound(
    raw: bytes,
    *,
    recipient: str,
    ids: ReplyDomain,
    languages: Sequence[str] = ("en", "fr"),
    null_sender: bool = False,
) -> ParsedEmail:
    """Reads one email received for ``recipient``; raises MalformedEmail when it can't.

    ``null_sender``: the envelope's sender was empty (``MAIL FROM:<>``), as RFC 3834 asks
    of automatic responses.
    """
    try:
        email = BytesParser(policy=policy.default).parsebytes(raw)
        if not isinstance(email, EmailMessage):
            raise MalformedEmail("unreadable email")
        return _read(email, raw, recipient, ids, languages, null_sender=null_sender)
    except MalformedEmail:
        raise
    except (ValueError, LookupError, TypeError, IndexError, AttributeError) as exc:
        # The stdlib's header classes raise on some broken input instead of noting a defect.
        raise MalformedEmail(f"unreadable email ({type(exc).__name__})") from exc


def _read(
    email: EmailMessage,
    raw: bytes,
    recipient: str,
    ids: ReplyDomain,
    languages: Sequence[str],
    *,
    null_sender: bool,
) -> ParsedEmail:
    provider_id = _provider_message_id(email, raw)
    subject = " ".join(str(email.get("Subject", "")).split())
    sender = _sender(email)
    found = ParsedEmail(
        provider_message_id=provider_id,
        sender=sender,
        recipient=recipient,
        subject=subject,
        body="",
        command=None,
        defects=tuple(type(defect).__name__ for defect in email.defects),
    )
    if is_delivery_report(email):
        report = delivery_report(email, ids)
        if isinstance(report, str):
            return replace(found, ignored=report)
        receipt = RecordReceipt(
            provider=PROVIDER,
            provider_message_id=report.provider_message_id,
            status=report.status,
            reason=report.reason,
        )
        return replace(found, command=receipt)
    if recipient.strip("<>").lower() == ids.bounce_address.lower():
        return replace(found, ignored="not a delivery report, sent to the bounce address")
    attachments = tuple(_attachments(email))
    text = _text(email)
    body = _body(text, attachments, languages)
    thread = _thread(email, recipient, ids)
    automatic = null_sender or _auto_submitted(email)
    try:
        command = ReceiveMessage(
            provider=PROVIDER,
            provider_message_id=provider_id,
            channel=Channel.EMAIL,
            sender=sender,
            recipient=recipient.strip("<>"),
            body=body,
            conversation_hint=thread.conversation_id,
            replies_to=list(thread.replied_to[:20]),
            subject=subject[:998] or None,
            attachments=list(attachments[:MAX_ATTACHMENTS]),
            automatic=automatic,
        )
    except ValidationError as exc:
        fields = ", ".join(str(error["loc"][0]) for error in exc.errors())
        raise MalformedEmail(f"unusable {fields}") from None
    return replace(
        found,
        body=body,
        full_text=text[:MAX_BODY],
        command=command,
        thread=thread,
        attachments=attachments,
        auto_submitted=automatic,
    )


def _provider_message_id(email: EmailMessage, raw: bytes) -> str:
    given = str(email.get("Message-ID", "")).strip().strip("<>").strip()
    if given and len(given) <= 256 and not re.search(r"[\s<>]", given):
        return given
    # No usable Message-ID: a digest of the bytes, so a sender's retry is still one message.
    return f"sha256-{hashlib.sha256(raw).hexdigest()[:40]}@chainon.invalid"


def _sender(email: EmailMessage) -> str:
    for _name, address in getaddresses([str(value) for value in email.get_all("From", [])]):
        if "@" in address:
            return address
    raise MalformedEmail("no sender address in From")


def _thread(email: EmailMessage, recipient: str, ids: ReplyDomain) -> ThreadHint:
    replied_to = ids.messages_in(str(email.get("In-Reply-To", "")))
    replied_to += reversed(ids.messages_in(str(email.get("References", ""))))
    unique = tuple(dict.fromkeys(ids.message_id(message) for message in replied_to))
    if not ids.is_reply_address(recipient):
        return ThreadHint(replied_to=unique)
    conversation = ids.conversation_of(recipient)
    token = TokenCheck.FORGED if conversation is None else TokenCheck.VALID
    return ThreadHint(conversation_id=conversation, replied_to=unique, token=token)


def _auto_submitted(email: EmailMessage) -> bool:
    """Sent by a machine: RFC 3834's ``Auto-Submitted``, the older ``Precedence``, or the
    headers other out-of-office responders add."""
    auto = str(email.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(email.get("Precedence", "")).strip().lower()
    if auto.split(";")[0].strip() not in {"", "no"}:
        return True
    if precedence in {"bulk", "junk", "auto_reply", "list"}:
        return True
    if str(email.get("X-Autogenerated", "")).strip().lower() == "reply":
        return True
    return any(email.get(name) is not None for name in _AUTO_REPLY_HEADERS)


# Present on an automatic reply, whatever their value. Not X-Auto-Response-Suppress: a
# person's email may carry it too, and a person's message must never pass for a machine's.
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond")


def _text(email: EmailMessage) -> str:
    part = email.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    content = _text_of(part)
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def _body(text: str, attachments: Sequence[Attachment], languages: Sequence[str]) -> str:
    stripped = strip_reply(text, languages) or text.strip()
    if not stripped and attachments:
        stripped = "\n".join(f"[attachment: {item.filename}]" for item in attachments)
    return stripped[:MAX_BODY]


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _attachments(email: EmailMessage) -> Iterator[Attachment]:
    body = email.get_body(preferencelist=("plain", "html"))
    for part in _leaves(email):
        if part is body:
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if part.get_content_maintype() == "text" and disposition != "attachment" and not filename:
            continue  # another rendering of the text, not something the consumer attached
        data = _bytes_of(part)
        yield Attachment(
            filename=_printable(filename or "")[:255] or f"unnamed.{part.get_content_subtype()}",
            content_type=_printable(part.get_content_type())[:255] or "application/octet-stream",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )


def _printable(text: str) -> str:
    """A name as a sender gave it, without the control characters a header may smuggle."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _leaves(email: EmailMessage) -> Iterator[EmailMessage]:
    """Every leaf part; an attached email (message/rfc822) counts as one leaf."""
    if email.get_content_maintype() == "multipart" and isinstance(email.get_payload(), list):
        for part in email.iter_parts():
            if isinstance(part, EmailMessage):
                yield from _leaves(part)
        return
    yield email


def _bytes_of(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    inner = part.get_payload()
    if isinstance(inner, list):  # message/rfc822
        return b"".join(item.as_bytes() for item in inner if isinstance(item, Message))
    return str(inner).encode("utf-8", "replace")
