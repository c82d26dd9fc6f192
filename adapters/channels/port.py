"""The channel port: what every channel adapter (sandbox, SMPP, RCS, SMTP) offers the core.

Outbound, the core hands a queued message to ``send``; inbound messages and delivery
receipts come back as the domain's own commands through the ``ChannelSink``.
"""

from __future__ import annotations

from typing import Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.channels import Channel
from domain.commands import ReceiveMessage, RecordReceipt


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


class Accepted(BaseModel):
    """The provider took the message and gave it this id (receipts will name it)."""

    model_config = ConfigDict(frozen=True)
    provider: str
    provider_message_id: str
    segment_ids: list[str] = []  # every part's id, for a long SMS


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentFailure(DeliveryError):
    """The provider refused the message for good (invalid number, blocked...)."""


class TemporaryFailure(DeliveryError):
    """Try again later (throttled, connection lost...)."""


class ChannelSink(Protocol):
    async def inbound(self, message: ReceiveMessage) -> None: ...

    async def receipt(self, receipt: RecordReceipt) -> None: ...


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
