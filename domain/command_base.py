"""What every command is (versioned, frozen, traceable) and what each returns: the base
the command modules share, apart so that none of them imports another."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from chainon.domain.channels import Channel
from chainon.domain.message_status import MessageStatus
from chainon.domain.plain_text import PlainText

Text = Annotated[PlainText, Field(max_length=200_000)]
# What a consumer wrote, as the provider gave it: kept as it came (see domain/plain_text.py).
ReceivedText = Annotated[str, Field(max_length=200_000)]
Name = Annotated[PlainText, Field(min_length=1, max_length=128)]
Address = Annotated[PlainText, Field(min_length=1, max_length=320)]
Tag = Annotated[PlainText, Field(max_length=64)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[1] = 1
    # Traces a request through the core into the logs of every worker that handles it;
    # metadata, so it is left out of idempotency fingerprints.
    request_id: Annotated[str, Field(max_length=64)] | None = None
    # Set by a brand's systems on the commands topic: a redelivered command with the same
    # id changes nothing.
    command_id: UUID | None = None


class Outcome(BaseModel):
    """What a command did: the ids it touched, and whether it changed anything."""

    model_config = ConfigDict(frozen=True)
    changed: bool = True
    duplicate: bool = False
    refused: str | None = None
    kept: bool = False  # a receipt that came before its send, kept until the send is recorded
    brand_id: UUID | None = None
    conversation_id: UUID | None = None
    contact_id: UUID | None = None
    message_id: UUID | None = None
    channel: Channel | None = None
    status: MessageStatus | None = None  # an outbound message's status after the command
    reason: str | None = None  # a blocked send's (the send policy's) reason
    release_at: datetime | None = None  # a deferred send's release time
    segments: int | None = None  # an outbound message's, as it goes
    segments_before_mention: int | None = None  # a marketing SMS the mention was appended to
    country: str | None = None  # an outbound message's recipient's (ISO; '' for none): its price
    read: bool = False  # a read receipt marked the message read (RCS)
    position: int | None = None  # notification id of the last event recorded
