"""Commands that configure a brand: fallback, consent settings, sending limits, routing,
the queue and its agents' capacity. Each sets one whole document, recorded with who set it."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from chainon.domain.command_base import Command, Name
from chainon.domain.consent_settings import ConsentSettings
from chainon.domain.routing_rules import RoutingRules
from chainon.domain.sending_limits import SendingLimits


class ConfigureFallback(Command):
    type: Literal["ConfigureFallback"] = "ConfigureFallback"
    brand_id: UUID
    after_seconds: int


class ConfigureOptOutMention(Command):
    type: Literal["ConfigureOptOutMention"] = "ConfigureOptOutMention"
    brand_id: UUID
    append: bool


class ConfigureConsentSettings(Command):
    """The brand's whole consent-settings document; ``actor`` is who set it (an API key
    id, ``cli:<user>``), kept as the evidence of a quiet-hours override."""

    type: Literal["ConfigureConsentSettings"] = "ConfigureConsentSettings"
    brand_id: UUID
    settings: ConsentSettings
    actor: Annotated[str, Field(max_length=200)] = ""


class ConfigureSendingLimits(Command):
    """The brand's whole sending-limits document (``domain.sending_limits``)."""

    type: Literal["ConfigureSendingLimits"] = "ConfigureSendingLimits"
    brand_id: UUID
    limits: SendingLimits
    actor: Annotated[str, Field(max_length=200)] = ""


class ConfigureRouting(Command):
    """The brand's whole routing document (``domain.routing_rules``)."""

    type: Literal["ConfigureRouting"] = "ConfigureRouting"
    brand_id: UUID
    rules: RoutingRules
    actor: Annotated[str, Field(max_length=200)] = ""


class LiftDestinationBlock(Command):
    """An admin lets sends to a prefix the pumping guard blocked go again."""

    type: Literal["LiftDestinationBlock"] = "LiftDestinationBlock"
    brand_id: UUID
    prefix: Annotated[str, Field(min_length=2, max_length=16)]
    actor: Annotated[str, Field(max_length=200)] = ""


class ConfigureQueue(Command):
    type: Literal["ConfigureQueue"] = "ConfigureQueue"
    brand_id: UUID
    first_response_minutes: int


class SetAgentCapacity(Command):
    type: Literal["SetAgentCapacity"] = "SetAgentCapacity"
    brand_id: UUID
    agent: Name
    capacity: int
