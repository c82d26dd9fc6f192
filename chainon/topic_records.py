"""What travels on each topic: versioned pydantic models, JSON, with ``type`` and
``schema_version``; and how a received value is read back, or refused with a reason.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chainon.adapters.channels.port import OutboundMessage, RevokeMessage
from chainon.domain import commands as cmd
from chainon.domain.ids import NAMESPACE


class PoisonRecord(Exception):
    """A record that no retry can make valid; it goes to the dead-letter topic."""


class EventRecord(BaseModel):
    """A domain event as published on the events topic.

    ``position`` is the event's place in the store's notification log: it grows with every
    event, so a consumer that remembers the last position it applied is idempotent.
    """

    model_config = ConfigDict(frozen=True)
    type: str = Field(examples=["Conversation.MessageReceived"])
    schema_version: int = 1
    aggregate_type: str
    aggregate_id: UUID
    aggregate_version: int
    position: int
    timestamp: datetime
    data: dict[str, Any]


class DeadLetter(BaseModel):
    """What the dead-letter topic keeps: the reason and the original record, untouched."""

    type: Literal["DeadLetter"] = "DeadLetter"
    schema_version: Literal[1] = 1
    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    key: str | None
    value: str  # the original bytes, decoded as UTF-8 with replacement if they were not
    attempts: int
    failed_at: datetime


Inbound = Annotated[
    cmd.ReceiveMessage
    | cmd.RecordSent
    | cmd.RecordSendFailure
    | cmd.RecordReceipt
    | cmd.RecordCapability
    | cmd.RecordRevocation
    | cmd.EnforceFallbackDeadline
    | cmd.EnforceReceiptDeadline
    | cmd.ExpireDialogue
    | cmd.ReleaseDeferredMessage,
    Field(discriminator="type"),
]
BrandCommand = Annotated[
    cmd.SendMessage
    | cmd.Reply
    | cmd.AssignConversation
    | cmd.TagConversation
    | cmd.ResolveConversation
    | cmd.ReopenConversation
    | cmd.AddContactAddress
    | cmd.ClaimConversation
    | cmd.PrioritizeConversation
    | cmd.UpdateContact
    | cmd.ConfigureQueue
    | cmd.SetAgentCapacity
    | cmd.ConfigureFallback
    | cmd.ConfigureOptOutMention
    | cmd.ConfigureConsentSettings
    | cmd.GrantConsent
    | cmd.RevokeConsent
    | cmd.StartFlow,
    Field(discriminator="type"),
]
INBOUND: TypeAdapter[Any] = TypeAdapter(Inbound)
COMMANDS: TypeAdapter[Any] = TypeAdapter(BrandCommand)
Outbound = Annotated[OutboundMessage | RevokeMessage, Field(discriminator="type")]
OUTBOUND: TypeAdapter[OutboundMessage | RevokeMessage] = TypeAdapter(Outbound)


def read(adapter: TypeAdapter[Any], value: bytes) -> Any:
    """Parses a record's value, or refuses it naming what is wrong."""
    try:
        document = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonRecord(f"malformed JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PoisonRecord("the value must be a JSON object")
    try:
        return adapter.validate_python(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        raise PoisonRecord(problems) from None


def dump(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_none=False).encode()


def conversation_key(sender: str, recipient: str) -> str:
    """Inbound records of one conversation share a key (so a partition, so an order)."""
    a, b = sorted((sender.strip().lower(), recipient.strip().lower()))
    return str(uuid5(NAMESPACE, f"pair:{a}:{b}"))
