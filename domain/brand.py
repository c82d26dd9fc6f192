"""A brand: the tenant that owns sender addresses, API keys and conversations."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import brand_events as events
from chainon.domain import ids
from chainon.domain.access import (
    LEGACY_SCOPES,
    ROLE_SCOPES,
    AgentProfile,
    Principal,
    Role,
    Scope,
    checked_agent,
    checked_scopes,
)
from chainon.domain.channels import CHANNEL_ADDRESS_KIND, DEFAULT_CHANNEL_ORDER, Channel
from chainon.domain.consent_settings import (
    DEFAULT_RULES,
    DEFAULT_SETTINGS,
    ConsentRules,
    ConsentSettings,
    rules_of,
)
from chainon.domain.errors import Conflict, InvalidInput, NotFound, TransitionRefused
from chainon.domain.routing_rules import NO_RULES, RoutingRules
from chainon.domain.sending_limits import DEFAULT_LIMITS, SendingLimits, allowed_countries

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
DEFAULT_REOPEN_WINDOW_HOURS = 168
DEFAULT_FIRST_RESPONSE_MINUTES = 60  # until the brand sets its own
MAX_FIRST_RESPONSE_MINUTES = 7 * 24 * 60
DEFAULT_AGENT_CAPACITY = 5
MAX_AGENT_CAPACITY = 1000
MAX_HELP_TEXT = 480
DEFAULT_PROVIDER = "sandbox"
PROVIDER = re.compile(r"^[a-z][a-z0-9-]{0,31}(?::[a-z0-9][a-z0-9_-]{0,63})?$")


# RCS delivery usually follows within seconds when the handset is online; ten minutes
# leaves room for a phone briefly out of coverage without letting an urgent message
# (a code, a delivery slot) go stale. Per brand 60 s to 24 h, per message too.
DEFAULT_FALLBACK_SECONDS = 600
MIN_FALLBACK_SECONDS = 60
MAX_FALLBACK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class SettingsChange:
    """One line of the brand's consent-settings history: what was set, by whom, when."""

    at: datetime
    by: str  # the API key id, "cli:<user>"; "" for the older mention-only records
    settings: dict[str, Any]


@dataclass(frozen=True)
class RecordedOverride:
    """A quiet-hours window wider than the country's, with who asked for it and why."""

    reason: str
    by: str
    at: datetime


def check_fallback_seconds(seconds: int, field: str = "fallback_after_seconds") -> None:
    if not MIN_FALLBACK_SECONDS <= seconds <= MAX_FALLBACK_SECONDS:
        raise InvalidInput(
            f"must be {MIN_FALLBACK_SECONDS} to {MAX_FALLBACK_SECONDS} seconds", field=field
        )


class Brand(Aggregate):
    TOPIC = "chainon:Brand"

    Event = events.Event
    Created = events.Created
    Registered = events.Registered
    SenderAddressAdded = events.SenderAddressAdded
    ApiKeyIssued = events.ApiKeyIssued
    ApiKeyRevoked = events.ApiKeyRevoked
    SenderRouted = events.SenderRouted
    QueueConfigured = events.QueueConfigured
    AgentCapacitySet = events.AgentCapacitySet
    AgentEnrolled = events.AgentEnrolled
    AgentRoleChanged = events.AgentRoleChanged
    FallbackConfigured = events.FallbackConfigured
    OptOutMentionConfigured = events.OptOutMentionConfigured
    ConsentSettingsConfigured = events.ConsentSettingsConfigured
    SendingLimitsConfigured = events.SendingLimitsConfigured
    RoutingRulesConfigured = events.RoutingRulesConfigured

    @event(Registered)
    def __init__(
        self,
        slug: str,
        name: str,
        help_text: str,
        channel_order: list[str],
        reopen_window_hours: int,
        smart_encoding: bool,
    ) -> None:
        self.slug = slug
        self.name = name
        self.help_text = help_text
        self.channel_order = tuple(Channel(c) for c in channel_order)
        self.reopen_window_hours = reopen_window_hours
        self.smart_encoding = smart_encoding
        self.senders: dict[Channel, list[str]] = {}
        self.api_keys: dict[str, tuple[str, str]] = {}  # key id → (hash, label)
        self.revoked_keys: set[str] = set()
        self.key_expiry: dict[str, datetime] = {}  # key id → when it stops being accepted
        self.key_scopes: dict[str, tuple[str, ...]] = {}
        self.key_agents: dict[str, str] = {}  # key id → the agent it was issued to
        self.agents: dict[str, AgentProfile] = {}
        self.routes: dict[tuple[Channel, str], str] = {}
        self.first_response_minutes = DEFAULT_FIRST_RESPONSE_MINUTES
        self.capacities: dict[str, int] = {}
        self.fallback_after = timedelta(seconds=DEFAULT_FALLBACK_SECONDS)
        self.appends_opt_out_mention = False  # refused without it until the brand says so
        self.consent_settings = DEFAULT_SETTINGS
        self.consent_rules: ConsentRules = DEFAULT_RULES
        self.quiet_hours_overrides: dict[str, RecordedOverride] = {}
        self.consent_history: list[SettingsChange] = []
        self.sending_limits = DEFAULT_LIMITS
        self.limits_history: list[SettingsChange] = []
        self.routing_rules = NO_RULES
        self.routing_history: list[SettingsChange] = []

    @classmethod
    def register(
        cls,
        *,
        slug: str,
        name: str,
        at: datetime,
        help_text: str = "",
        channel_order: tuple[Channel, ...] = DEFAULT_CHANNEL_ORDER,
        reopen_window_hours: int = DEFAULT_REOPEN_WINDOW_HOURS,
        smart_encoding: bool = False,
    ) -> Brand:
        if not SLUG.match(slug):
            raise InvalidInput(
                "must be 1-64 lower-case letters, digits or inner hyphens", field="slug"
            )
        if not name.strip():
            raise InvalidInput("must not be empty", field="name")
        if len(help_text) > MAX_HELP_TEXT:
            raise InvalidInput(f"must be at most {MAX_HELP_TEXT} characters", field="help_text")
        if not channel_order or len(set(channel_order)) != len(channel_order):
            raise InvalidInput("must list each channel once, at least one", field="channel_order")
        if not 0 <= reopen_window_hours <= 24 * 365:
            raise InvalidInput("must be between 0 and 8760", field="reopen_window_hours")
        return cls._create(
            cls.Registered,
            id=ids.brand_id(slug),
            timestamp=at,
            slug=slug,
            name=name.strip(),
            help_text=help_text,
            channel_order=[c.value for c in channel_order],
            reopen_window_hours=reopen_window_hours,
            smart_encoding=smart_encoding,
        )

    def add_sender(self, channel: Channel, address: str, *, at: datetime) -> None:
        """Adds an address the brand sends from and receives on; ``address`` is normalised."""
        if address in self.senders.get(channel, []):
            raise Conflict(
                f"{address} is already a {channel} sender of this brand", field="address"
            )
        if channel not in CHANNEL_ADDRESS_KIND:
            raise InvalidInput(f"unknown channel {channel!r}", field="channel")
        self._sender_added(channel=channel.value, address=address, timestamp=at)

    @event(SenderAddressAdded)
    def _sender_added(self, channel: str, address: str, timestamp: datetime) -> None:
        self.senders.setdefault(Channel(channel), []).append(address)

    def route(self, channel: Channel, address: str, provider: str, *, at: datetime) -> bool:
        """Sends this sender's messages through ``provider`` (a link name of the deployment)."""
        if address not in self.senders.get(channel, []):
            raise InvalidInput(
                f"{address} is not a {channel.value} sender of this brand", field="address"
            )
        if not PROVIDER.match(provider):
            raise InvalidInput(
                "must look like 'sandbox', 'smpp:main' or 'smtp:relay'", field="provider"
            )
        if self.routes.get((channel, address)) == provider:
            return False
        self._routed(channel=channel.value, address=address, provider=provider, timestamp=at)
        return True

    @event(SenderRouted)
    def _routed(self, channel: str, address: str, provider: str, timestamp: datetime) -> None:
        self.routes[(Channel(channel), address)] = provider

    def provider_for(self, channel: Channel, address: str) -> str:
        return self.routes.get((channel, address), DEFAULT_PROVIDER)

    def sender_for(self, channel: Channel) -> str | None:
        addresses = self.senders.get(channel)
        return addresses[0] if addresses else None

    def issue_key(
        self,
        key_id: str,
        key_hash: str,
        label: str,
        *,
        at: datetime,
        expires_at: datetime | None = None,
        scopes: tuple[str, ...] = (Scope.ADMIN.value,),
        agent: str | None = None,
    ) -> None:
        """A key of the brand with ``scopes``, or, with ``agent``, that agent's key (what
        it may do is then its role's, whatever ``scopes`` says)."""
        if key_id in self.api_keys:
            raise Conflict(f"key {key_id} exists already", field="key_id")
        if expires_at is not None and expires_at <= at:
            raise InvalidInput("a key must expire after it is issued", field="expires_at")
        if agent is not None and agent not in self.agents:
            raise NotFound(f"no agent {agent} in this brand", field="agent")
        self._key_issued(
            key_id=key_id,
            key_hash=key_hash,
            label=label,
            expires_at=expires_at,
            scopes=[] if agent is not None else list(checked_scopes(scopes)),
            agent=agent,
            timestamp=at,
        )

    @event(ApiKeyIssued)
    def _key_issued(
        self,
        key_id: str,
        key_hash: str,
        label: str,
        expires_at: datetime | None,
        scopes: list[str],
        agent: str | None,
        timestamp: datetime,
    ) -> None:
        self.api_keys[key_id] = (key_hash, label)
        if expires_at is not None:
            self.key_expiry[key_id] = expires_at
        self.key_scopes[key_id] = tuple(scopes)
        if agent is not None:
            self.key_agents[key_id] = agent

    def revoke_key(self, key_id: str, *, at: datetime) -> None:
        if key_id not in self.api_keys:
            raise InvalidInput(f"no key {key_id} on this brand", field="key_id")
        if key_id in self.revoked_keys:
            raise TransitionRefused(f"key {key_id} is already revoked")
        self._key_revoked(key_id=key_id, timestamp=at)

    @event(ApiKeyRevoked)
    def _key_revoked(self, key_id: str, timestamp: datetime) -> None:
        self.revoked_keys.add(key_id)

    def accepts_key(self, key_id: str, key_hash: str) -> bool:
        """Whether the key is this brand's and not revoked (its expiry is ``key_expiry``'s:
        the domain reads no clock). The hashes are compared in constant time, so how long
        a refusal takes tells nothing of how much of a guess was right."""
        known = self.api_keys.get(key_id)
        matches = hmac.compare_digest(known[0] if known else "", key_hash)
        return known is not None and matches and key_id not in self.revoked_keys

    def principal_of(self, key_id: str) -> Principal:
        """Who a request with this (accepted) key acts as, and what it may do."""
        agent = self.agents.get(self.key_agents.get(key_id, ""))
        if agent is not None:
            return Principal(key_id, ROLE_SCOPES[agent.role], agent)
        scopes = self.key_scopes.get(key_id, LEGACY_SCOPES)
        return Principal(key_id, frozenset(Scope(s) for s in scopes))

    def enroll_agent(self, name: str, role: Role, teams: list[str], *, at: datetime) -> bool:
        """Enrolls the agent, or changes its role and teams; False when nothing changes."""
        checked = checked_agent(name, teams)
        known = self.agents.get(name)
        if known is None:
            self._agent_enrolled(agent=name, role=role.value, teams=list(checked), timestamp=at)
            return True
        if known.role is role and known.teams == checked:
            return False
        self._agent_changed(agent=name, role=role.value, teams=list(checked), timestamp=at)
        return True

    @event(AgentEnrolled)
    def _agent_enrolled(self, agent: str, role: str, teams: list[str], timestamp: datetime) -> None:
        self.agents[agent] = AgentProfile(agent, Role(role), tuple(teams))

    @event(AgentRoleChanged)
    def _agent_changed(self, agent: str, role: str, teams: list[str], timestamp: datetime) -> None:
        self.agents[agent] = AgentProfile(agent, Role(role), tuple(teams))

    def configure_queue(self, first_response_minutes: int, *, at: datetime) -> bool:
        """The first-response SLA: how long an inbound message may wait for an answer."""
        if not 1 <= first_response_minutes <= MAX_FIRST_RESPONSE_MINUTES:
            raise InvalidInput(
                f"must be 1 to {MAX_FIRST_RESPONSE_MINUTES} minutes", field="first_response_minutes"
            )
        if first_response_minutes == self.first_response_minutes:
            return False
        self._queue_configured(first_response_minutes=first_response_minutes, timestamp=at)
        return True

    @event(QueueConfigured)
    def _queue_configured(self, first_response_minutes: int, timestamp: datetime) -> None:
        self.first_response_minutes = first_response_minutes

    def set_capacity(self, agent: str, capacity: int, *, at: datetime) -> bool:
        """How many open conversations an agent may hold at once (0: takes none)."""
        if not agent.strip() or len(agent) > 128:
            raise InvalidInput("must be 1 to 128 characters", field="agent")
        if not 0 <= capacity <= MAX_AGENT_CAPACITY:
            raise InvalidInput(f"must be 0 to {MAX_AGENT_CAPACITY}", field="capacity")
        if self.capacities.get(agent) == capacity:
            return False
        self._capacity_set(agent=agent, capacity=capacity, timestamp=at)
        return True

    @event(AgentCapacitySet)
    def _capacity_set(self, agent: str, capacity: int, timestamp: datetime) -> None:
        self.capacities[agent] = capacity

    def configure_fallback(self, after_seconds: int, *, at: datetime) -> bool:
        check_fallback_seconds(after_seconds)
        if timedelta(seconds=after_seconds) == self.fallback_after:
            return False
        self._fallback_configured(after_seconds=after_seconds, timestamp=at)
        return True

    @event(FallbackConfigured)
    def _fallback_configured(self, after_seconds: int, timestamp: datetime) -> None:
        self.fallback_after = timedelta(seconds=after_seconds)

    def configure_opt_out_mention(self, append: bool, *, at: datetime) -> bool:
        if append == self.appends_opt_out_mention:
            return False
        self._opt_out_mention_configured(append=append, timestamp=at)
        return True

    @event(OptOutMentionConfigured)
    def _opt_out_mention_configured(self, append: bool, timestamp: datetime) -> None:
        self.appends_opt_out_mention = append
        change = {"append_opt_out_mention": append}
        self.consent_history.append(SettingsChange(timestamp, "", change))

    def current_consent_settings(self) -> ConsentSettings:
        """The document in force, the mention switch included whichever way it was set."""
        return self.consent_settings.model_copy(
            update={"append_opt_out_mention": self.appends_opt_out_mention}
        )

    def configure_consent(self, settings: ConsentSettings, *, actor: str, at: datetime) -> bool:
        """Sets the whole document; False (nothing recorded) when it is the one in force.
        Refused, naming the field, past the law's limits (``consent_settings.rules_of``)."""
        rules_of(settings)
        if settings == self.current_consent_settings():
            return False
        self._consent_configured(
            settings=settings.model_dump(mode="json"), actor=actor, timestamp=at
        )
        return True

    @event(ConsentSettingsConfigured)
    def _consent_configured(
        self, settings: dict[str, Any], actor: str, timestamp: datetime
    ) -> None:
        document = ConsentSettings.model_validate(settings)
        previous = self.consent_settings.quiet_hours
        overrides: dict[str, RecordedOverride] = {}
        for country, window in document.quiet_hours.items():
            if window.override is None:
                continue
            # The same window asked again keeps who first asked for it, and when.
            kept = self.quiet_hours_overrides.get(country)
            if kept is None or previous.get(country) != window:
                kept = RecordedOverride(window.override.reason, actor, timestamp)
            overrides[country] = kept
        self.consent_settings = document
        self.consent_rules = rules_of(document)
        self.appends_opt_out_mention = document.append_opt_out_mention
        self.quiet_hours_overrides = overrides
        self.consent_history.append(SettingsChange(timestamp, actor, settings))

    def configure_sending_limits(self, limits: SendingLimits, *, actor: str, at: datetime) -> bool:
        """Sets the whole document; False (nothing recorded) when it is the one in force."""
        if limits == self.sending_limits:
            return False
        self._limits_configured(limits=limits.model_dump(mode="json"), actor=actor, timestamp=at)
        return True

    @event(SendingLimitsConfigured)
    def _limits_configured(self, limits: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self.sending_limits = SendingLimits.model_validate(limits)
        self.limits_history.append(SettingsChange(timestamp, actor, limits))

    def configure_routing(self, rules: RoutingRules, *, actor: str, at: datetime) -> bool:
        """Sets the whole document; False (nothing recorded) when it is the one in force."""
        if rules == self.routing_rules:
            return False
        self._routing_configured(rules=rules.model_dump(mode="json"), actor=actor, timestamp=at)
        return True

    @event(RoutingRulesConfigured)
    def _routing_configured(self, rules: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self.routing_rules = RoutingRules.model_validate(rules)
        self.routing_history.append(SettingsChange(timestamp, actor, rules))

    def allowed_countries(self) -> frozenset[str]:
        """Where the brand's SMS and RCS may go (``sending_limits.allowed_countries``)."""
        senders = [a for c in (Channel.SMS, Channel.RCS) for a in self.senders.get(c, [])]
        return allowed_countries(self.sending_limits, senders)

    def fallback_channel(self, channel: Channel) -> Channel | None:
        """The next channel of the brand's order that reaches the same kind of address and
        has a sender: where a message on ``channel`` falls back to (RCS → SMS)."""
        order = list(self.channel_order)
        if channel not in order:
            return None
        kind = CHANNEL_ADDRESS_KIND[channel]
        for later in order[order.index(channel) + 1 :]:
            if CHANNEL_ADDRESS_KIND[later] is kind and self.senders.get(later):
                return later
        return None

    @property
    def brand_id(self) -> UUID:
        return self.id
