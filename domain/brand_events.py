"""A brand's events: what is stored for each fact about a tenant, with versions and upcasters.

They live apart from the aggregate to keep its module about decisions; the aggregate names
each of them in its class body (``Brand.ApiKeyIssued`` is this ``ApiKeyIssued``), and each is
stored and read back through its explicit ``TOPIC``, never through its module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from chainon.domain.access import LEGACY_SCOPES


class Event(Aggregate.Event):
    TOPIC = "chainon:Brand.Event"


class Created(Event, Aggregate.Created):
    TOPIC = "chainon:Brand.Created"


class Registered(Created):
    TOPIC = "chainon:Brand.Registered"
    slug: str
    name: str
    help_text: str
    channel_order: list[str]
    reopen_window_hours: int
    smart_encoding: bool


class SenderAddressAdded(Event):
    TOPIC = "chainon:Brand.SenderAddressAdded"
    channel: str
    address: str


class ApiKeyIssued(Event):
    """v2 carries the key's expiry (None: it never expires); v1 keys never did. v3
    carries its scopes and, for an agent's key, the agent (its scopes are then its
    role's); keys issued before were the brand's, and could do everything: ``admin``."""

    TOPIC = "chainon:Brand.ApiKeyIssued"
    class_version = 3
    key_id: str
    key_hash: str
    label: str
    expires_at: datetime | None
    scopes: list[str]
    agent: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["expires_at"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, object]) -> None:
        state["scopes"] = list(LEGACY_SCOPES)
        state["agent"] = None


class ApiKeyRevoked(Event):
    TOPIC = "chainon:Brand.ApiKeyRevoked"
    key_id: str


class SenderRouted(Event):
    """Which provider link carries a sender address (an SMPP link, an SMTP relay...)."""

    TOPIC = "chainon:Brand.SenderRouted"
    channel: str
    address: str
    provider: str


class QueueConfigured(Event):
    TOPIC = "chainon:Brand.QueueConfigured"
    first_response_minutes: int


class AgentCapacitySet(Event):
    TOPIC = "chainon:Brand.AgentCapacitySet"
    agent: str
    capacity: int


class AgentEnrolled(Event):
    """A principal of the brand: who works its conversations, with which role, in
    which teams."""

    TOPIC = "chainon:Brand.AgentEnrolled"
    agent: str
    role: str
    teams: list[str]


class AgentRoleChanged(Event):
    TOPIC = "chainon:Brand.AgentRoleChanged"
    agent: str
    role: str
    teams: list[str]


class FallbackConfigured(Event):
    """How long an RCS message may wait for DELIVERED before it is revoked and sent by
    SMS instead."""

    TOPIC = "chainon:Brand.FallbackConfigured"
    after_seconds: int


class OptOutMentionConfigured(Event):
    """Whether Chainon appends the country's opt-out mention ("STOP au …", "Reply STOP
    to opt out") to a marketing SMS that lacks it, rather than refusing the send."""

    TOPIC = "chainon:Brand.OptOutMentionConfigured"
    append: bool


class ConsentSettingsConfigured(Event):
    """The brand's whole consent-settings document (``domain.consent_settings``), as
    it was set, and who set it: the evidence of a quiet-hours override."""

    TOPIC = "chainon:Brand.ConsentSettingsConfigured"
    settings: dict[str, Any]
    actor: str


class SendingLimitsConfigured(Event):
    """The brand's whole sending-limits document (``domain.sending_limits``), as it was
    set, and who set it."""

    TOPIC = "chainon:Brand.SendingLimitsConfigured"
    limits: dict[str, Any]
    actor: str


class RoutingRulesConfigured(Event):
    """The brand's whole routing document (``domain.routing_rules``), and who set it."""

    TOPIC = "chainon:Brand.RoutingRulesConfigured"
    rules: dict[str, Any]
    actor: str
