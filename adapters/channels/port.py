"""The channel port: what every channel adapter (sandbox, SMPP, RCS, SMTP) offers the core.

Outbound, the core hands a queued message to ``send``; inbound messages and delivery
receipts come back as the domain's own commands through the ``ChannelSink``, and what a
channel heard but cannot make sense of comes back as a ``ChannelRefusal``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_validator

from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt


class OutboundMessage(BaseModel):
    """A queued message, as the channel adapter needs it (also the outbound topic's record)."""

    model_config = ConfigDict(frozen=True)
    type: Literal["OutboundMessage"] = "OutboundMessage"
    schema_version: Literal[1] = 1
    message_id: UUID
    conversation_id: UUID
    brand_id: UUID
    channel: Channel
    sender: str
    recipient: str
    body: str
    encoding: str | None = None
    segments: int = 1
    request_id: str | None = None
    rich: dict[str, Any] | None = None  # RCS rich content (domain.rich_content.RichContent)
    # RCS: ask the provider whether the handset takes RCS first (the core's cached answer
    # on the contact was missing or stale)
    check_capability: bool = True
    # conversational, service or marketing: a marketing email carries List-Unsubscribe
    purpose: str = "service"


class Accepted(BaseModel):
    """The provider took the message and gave it this id (receipts will name it)."""

    model_config = ConfigDict(frozen=True)
    provider: str
    provider_message_id: str
    segment_ids: list[str] = []  # every part's id, for a long SMS
    # How long the provider itself keeps trying to deliver (an SMPP link's validity
    # period): after it, no receipt will come. None: the deployment's receipt deadline.
    receipt_within_seconds: int | None = None


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentFailure(DeliveryError):
    """The provider refused the message for good (invalid number, blocked...)."""


class TemporaryFailure(DeliveryError):
    """Try again later (throttled, connection lost...)."""


MAX_RAW = 64 * 1024  # characters of the offending input a refusal keeps


class ChannelRefusal(BaseModel):
    """Input a channel refused (an unparsable PDU, a malformed email...), kept with its
    reason: it may be someone's message, so a log line alone would lose it.

    ``reason`` is short and stable, for counting and alerting (``"unparsable PDU"``,
    ``"unreadable receipt"``, ``"undecodable text"``, ``"malformed email"``,
    ``"oversized email"``); ``detail`` says what exactly was wrong; ``raw`` is the input as
    text (hex for binary protocols), cut at ``MAX_RAW`` characters.
    """

    model_config = ConfigDict(frozen=True)
    provider: str
    reason: str
    detail: str
    raw: str
    at: datetime

    @field_validator("raw")
    @classmethod
    def _clip(cls, raw: str) -> str:
        if len(raw) <= MAX_RAW:
            return raw
        return f"{raw[:MAX_RAW]}[… {len(raw) - MAX_RAW} more characters not kept]"


class RevokeMessage(BaseModel):
    """The outbound topic's other record: take an undelivered RCS message back, so that its
    SMS fallback can go without the consumer getting both."""

    model_config = ConfigDict(frozen=True)
    type: Literal["RevokeMessage"] = "RevokeMessage"
    schema_version: Literal[1] = 1
    message_id: UUID
    conversation_id: UUID
    brand_id: UUID
    channel: Channel
    sender: str
    recipient: str
    provider_message_id: str | None = None
    request_id: str | None = None


class Revocation(BaseModel):
    """The provider's answer: ``revoked`` (it will never arrive), ``already_delivered``
    (too late: no fallback), ``failed`` (could not tell: no fallback either, the consumer
    may have it)."""

    model_config = ConfigDict(frozen=True)
    result: Literal["revoked", "already_delivered", "failed"]
    reason: str = ""


class CapabilityAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)
    capable: bool
    features: list[str] = []


class NotCapable(PermanentFailure):
    """The handset does not take this channel (RBM: 404 on capability or send)."""

    def __init__(self, reason: str = "not_capable") -> None:
        super().__init__(reason)


class ChannelSink(Protocol):
    async def inbound(self, message: ReceiveMessage) -> None: ...

    async def receipt(self, receipt: RecordReceipt) -> None: ...

    async def refused(self, refusal: ChannelRefusal) -> None:
        """Records the refusal; like ``inbound``, it returns once the record is safe, so the
        channel may then answer its peer for good."""
        ...


class ChannelProvider(Protocol):
    name: str

    @property
    def channels(self) -> frozenset[Channel]: ...

    async def start(self, sink: ChannelSink) -> None: ...

    async def send(self, message: OutboundMessage) -> Accepted:
        """Hands the message over. Must be idempotent on ``message_id``: a retry after a
        crash must not reach the consumer twice."""
        ...

    async def stop(self) -> None: ...


@runtime_checkable
class RevokingProvider(ChannelProvider, Protocol):
    """A provider that can take a sent message back and tell a handset's capability (RCS)."""

    async def revoke(self, request: RevokeMessage) -> Revocation: ...

    async def capability(self, message: OutboundMessage) -> CapabilityAnswer: ...
