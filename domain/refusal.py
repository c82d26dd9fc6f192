"""Inbound traffic Chainon could not accept, kept with the reason rather than dropped."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class RefusedInbound(Aggregate):
    """An inbound message refused (unknown destination, unreadable sender...).

    Its id is the inbound message's own deterministic id, so a provider's retry of a
    refused message is recognised and recorded once.
    """

    TOPIC = "chainon:RefusedInbound"

    class Event(Aggregate.Event):
        TOPIC = "chainon:RefusedInbound.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:RefusedInbound.Created"

    class InboundRefused(Created):
        TOPIC = "chainon:RefusedInbound.InboundRefused"
        personal_fields: ClassVar[tuple[str, ...]] = ("sender", "body")
        provider: str
        provider_message_id: str
        channel: str
        sender: str
        recipient: str
        body: str
        reason: str

    @event(InboundRefused)
    def __init__(
        self,
        provider: str,
        provider_message_id: str,
        channel: str,
        sender: str,
        recipient: str,
        body: str,
        reason: str,
    ) -> None:
        self.provider = provider
        self.provider_message_id = provider_message_id
        self.channel = channel
        self.sender = sender
        self.recipient = recipient
        self.body = body
        self.reason = reason

    @classmethod
    def refuse(
        cls,
        refusal_id: UUID,
        *,
        provider: str,
        provider_message_id: str,
        channel: str,
        sender: str,
        recipient: str,
        body: str,
        reason: str,
        at: datetime,
    ) -> RefusedInbound:
        return cls._create(
            cls.InboundRefused,
            id=refusal_id,
            timestamp=at,
            provider=provider,
            provider_message_id=provider_message_id,
            channel=channel,
            sender=sender,
            recipient=recipient,
            body=body,
            reason=reason,
        )
