"""Delivery status notifications (RFC 3464) about the messages we sent.

A relay that cannot deliver sends a ``multipart/report`` back to our bounce address; it
names our message by the ``ENVID`` we gave (``Original-Envelope-Id``) or in the headers it
returns. Such a report becomes a receipt; a delay notice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import Parser
from typing import Literal
from uuid import UUID

from chainon.adapters.channels.email.ids import ReplyDomain, unxtext
from chainon.domain.message_status import MessageStatus

_RETURNED_HEADERS = {"text/rfc822-headers", "message/global-headers"}
_RETURNED_MESSAGE = {"message/rfc822", "message/global"}


@dataclass(frozen=True)
class DeliveryReport:
    provider_message_id: str
    status: Literal[MessageStatus.DELIVERED, MessageStatus.FAILED]
    reason: str


def is_delivery_report(email: EmailMessage) -> bool:
    report_type = str(email.get_param("report-type", "", header="content-type"))
    return email.get_content_type() == "multipart/report" and report_type == "delivery-status"


def delivery_report(email: EmailMessage, ids: ReplyDomain) -> DeliveryReport | str:
    """The report about one of our messages, or why there is nothing to record."""
    blocks = _status_blocks(email)
    if not blocks:
        return "a delivery report without delivery-status fields"
    ours = _our_message(email, blocks[0], ids)
    if ours is None:
        return "a delivery report about a message we did not send"
    provider_id = ids.message_id(ours)
    actions = [(_field(block, "Action").lower(), block) for block in blocks[1:]]
    for action, block in actions:
        if action == "failed":
            return DeliveryReport(provider_id, MessageStatus.FAILED, _reason(block))
    if any(action == "delivered" for action, _block in actions):
        return DeliveryReport(provider_id, MessageStatus.DELIVERED, "")
    return f"a delivery report with no final outcome ({', '.join(a for a, _ in actions)})"


def _status_blocks(email: EmailMessage) -> list[Message]:
    for part in email.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                return [block for block in payload if isinstance(block, Message)]
    return []


def _our_message(email: EmailMessage, per_message: Message, ids: ReplyDomain) -> UUID | None:
    candidates = [unxtext(_field(per_message, "Original-Envelope-Id"))]
    for part in email.walk():
        returned = _returned_headers(part)
        if returned is not None:
            candidates.append(_field(returned, "Message-ID"))
    for candidate in candidates:
        found = ids.message_of(candidate) if candidate else None
        if found is not None:
            return found
    return None


def _returned_headers(part: Message) -> Message | None:
    kind = part.get_content_type()
    payload = part.get_payload()
    if kind in _RETURNED_MESSAGE and isinstance(payload, list) and payload:
        first = payload[0]
        return first if isinstance(first, Message) else None
    if kind in _RETURNED_HEADERS:
        text = payload if isinstance(payload, str) else ""
        return Parser(policy=policy.default).parsestr(text.lstrip(), headersonly=True)
    return None


def _reason(block: Message) -> str:
    """``Status`` and the relay's words: ``5.1.1 user unknown``."""
    status = _field(block, "Status")
    diagnostic = _field(block, "Diagnostic-Code")
    kind, separator, text = diagnostic.partition(";")
    text = text.strip() if separator else kind
    text = re.sub(r"^\d{3}[ -]", "", text)  # the SMTP reply code repeats the status
    if status and text.startswith(status):
        text = text[len(status) :].strip()
    return f"{status} {text}".strip()[:500] or "undeliverable"


def _field(block: Message, name: str) -> str:
    return " ".join(str(block.get(name, "")).split())
