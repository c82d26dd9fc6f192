"""A contact's consent to hear from a brand: every change, with its evidence.

One ledger per contact × brand. Each grant or revocation is an event that carries where it
came from (a keyword on SMS, an API call with its key, a CSV import, a web form, an agent,
a phrase the opt-out detector read), so that the brand can answer a regulator or the
consumer with the history, not only the current state.

The default rule, configurable per brand (``scope``): an opt-out on any channel revokes
marketing on **every** channel of the brand — an RCS "STOP" also stops SMS and email
marketing — in line with the US FCC's 2025 revocation rule ("any reasonable means").
Service messages stay allowed unless the contact opted out of them too (``STOPALL``).
Marketing needs a recorded opt-in; service needs none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids
from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput
from chainon.domain.purpose import Purpose as Purpose  # re-exported: its old home

MAX_EVIDENCE_TEXT = 2000


CONSENTED = (Purpose.MARKETING, Purpose.SERVICE)


class EvidenceSource(StrEnum):
    KEYWORD = "keyword"
    PHRASE = "phrase"  # the opt-out detector's reading of a reply in plain words
    API = "api"
    IMPORT = "import"
    WEB_FORM = "web_form"
    AGENT = "agent"
    UNSUBSCRIBE_LINK = "unsubscribe_link"  # RFC 8058 one-click, List-Unsubscribe


class Scope(StrEnum):
    ALL_CHANNELS = "all_channels"  # the default: one opt-out stops marketing everywhere
    CHANNEL = "channel"


STATES = ("granted", "revoked", "none")


@dataclass(frozen=True)
class ConsentCriterion:
    """A CRM filter on consent: ``marketing:granted``, ``service:revoked``,
    ``marketing:none`` (never said), optionally on one channel (``marketing:granted:sms``).

    On a channel, the state is what a send there is told (its own change or a brand-wide
    one, whichever came last); without one, the contact's last word on that purpose,
    whatever channel it concerned."""

    purpose: Purpose
    state: str  # one of STATES
    channel: Channel | None = None

    @classmethod
    def parse(cls, text: str, field: str = "consent") -> ConsentCriterion:
        purpose, _, rest = text.strip().lower().partition(":")
        state, _, channel = rest.partition(":")
        wanted = f"must be <{'|'.join(p.value for p in CONSENTED)}>:<{'|'.join(STATES)}>[:channel]"
        if purpose not in {p.value for p in CONSENTED} or state not in STATES:
            raise InvalidInput(wanted, field=field)
        if channel and channel not in {c.value for c in Channel}:
            raise InvalidInput(f"{wanted}; no channel {channel!r}", field=field)
        return cls(Purpose(purpose), state, Channel(channel) if channel else None)

    def __str__(self) -> str:
        where = f":{self.channel.value}" if self.channel else ""
        return f"{self.purpose.value}:{self.state}{where}"


@dataclass(frozen=True)
class Evidence:
    source: EvidenceSource
    text: str = ""  # the raw message, form field or request that made the change
    channel: Channel | None = None
    address: str = ""  # the contact's address it came from
    actor: str = ""  # the API key id, the agent, the import file
    rule: str = ""  # the keyword or detector rule that fired
    message_id: UUID | None = None
    uncertain: bool = False  # the detector was not sure: a person should confirm
    # When the contact said it, where that was before Chainon heard of it (an imported row).
    collected_at: datetime | None = None
    # The evidence's own id outside Chainon (an imported row's digest): never recorded twice.
    reference: str = ""

    def __post_init__(self) -> None:
        if len(self.text) > MAX_EVIDENCE_TEXT:
            raise InvalidInput(f"at most {MAX_EVIDENCE_TEXT} characters", field="evidence.text")

    def as_record(self) -> dict[str, Any]:
        return {
            "source": self.source.value,
            "text": self.text,
            "channel": self.channel.value if self.channel else None,
            "address": self.address,
            "actor": self.actor,
            "rule": self.rule,
            "message_id": str(self.message_id) if self.message_id else None,
            "uncertain": self.uncertain,
            # Only when set: the evidence of every other source keeps its stored shape.
            **({"collected_at": self.collected_at.isoformat()} if self.collected_at else {}),
            **({"reference": self.reference} if self.reference else {}),
        }

    @classmethod
    def of_record(cls, record: dict[str, Any]) -> Evidence:
        return cls(
            source=EvidenceSource(record["source"]),
            text=record.get("text", ""),
            channel=Channel(record["channel"]) if record.get("channel") else None,
            address=record.get("address", ""),
            actor=record.get("actor", ""),
            rule=record.get("rule", ""),
            message_id=UUID(record["message_id"]) if record.get("message_id") else None,
            uncertain=bool(record.get("uncertain", False)),
            collected_at=_moment(record.get("collected_at")),
            reference=record.get("reference", ""),
        )


@dataclass(frozen=True)
class Change:
    """One line of the ledger: what changed, where, when and on what evidence."""

    granted: bool
    purpose: Purpose
    channel: Channel | None  # None: every channel of the brand
    at: datetime
    evidence: Evidence


class Consent(Aggregate):
    TOPIC = "chainon:Consent"

    class Event(Aggregate.Event):
        TOPIC = "chainon:Consent.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:Consent.Created"

    class Opened(Created):
        TOPIC = "chainon:Consent.Opened"
        brand_id: UUID
        contact_id: UUID

    class ConsentGranted(Event):
        TOPIC = "chainon:Consent.ConsentGranted"
        personal_fields: ClassVar[tuple[str, ...]] = ("evidence",)
        purpose: str
        channel: str | None
        evidence: dict[str, Any]

    class ConsentRevoked(Event):
        TOPIC = "chainon:Consent.ConsentRevoked"
        personal_fields: ClassVar[tuple[str, ...]] = ("evidence",)
        purpose: str
        channel: str | None
        evidence: dict[str, Any]

    @event(Opened)
    def __init__(self, brand_id: UUID, contact_id: UUID) -> None:
        self.brand_id = brand_id
        self.contact_id = contact_id
        self.changes: list[Change] = []

    @classmethod
    def open(cls, brand_id: UUID, contact_id: UUID, *, at: datetime) -> Consent:
        return cls._create(
            cls.Opened,
            id=ids.consent_id(brand_id, contact_id),
            timestamp=at,
            brand_id=brand_id,
            contact_id=contact_id,
        )

    # Deciding

    def grant(
        self, purpose: Purpose, evidence: Evidence, *, at: datetime, channel: Channel | None = None
    ) -> bool:
        """Records an opt-in; False (nothing recorded) when it is already in force or
        this very evidence was recorded before."""
        _consented(purpose)
        if self.recorded(evidence):
            return False
        if self.state(purpose, channel) is True and _scope_of(self, purpose, channel) == channel:
            return False
        self._granted(
            purpose=purpose.value,
            channel=channel.value if channel else None,
            evidence=evidence.as_record(),
            timestamp=at,
        )
        return True

    def revoke(
        self,
        purpose: Purpose,
        evidence: Evidence,
        *,
        at: datetime,
        channel: Channel | None = None,
        scope: Scope = Scope.ALL_CHANNELS,
    ) -> bool:
        """Records an opt-out; by the default scope, on every channel whatever it came on.
        False when that purpose is already revoked there, or this very evidence was
        recorded before."""
        _consented(purpose)
        if self.recorded(evidence):
            return False
        where = None if scope is Scope.ALL_CHANNELS else channel
        latest = next((c for c in reversed(self.changes) if c.purpose is purpose), None)
        if where is None and latest is not None and not latest.granted and latest.channel is None:
            return False  # revoked everywhere, and no grant since
        if where is not None and self.state(purpose, where) is False:
            return False
        self._revoked(
            purpose=purpose.value,
            channel=where.value if where else None,
            evidence=evidence.as_record(),
            timestamp=at,
        )
        return True

    # Reading

    def state(self, purpose: Purpose, channel: Channel | None) -> bool | None:
        """True (granted), False (revoked) or None (never said) for ``purpose`` on
        ``channel``: the latest change that covers it (its channel, or every channel)."""
        for change in reversed(self.changes):
            if change.purpose is purpose and change.channel in (None, channel):
                return change.granted
        return None

    def recorded(self, evidence: Evidence) -> bool:
        """Whether evidence with this reference is in the ledger already: an import run
        twice records each row once, and an old row never undoes a later change."""
        return bool(evidence.reference) and any(
            c.evidence.reference == evidence.reference for c in self.changes
        )

    def latest_revocation(self) -> Change | None:
        return next((c for c in reversed(self.changes) if not c.granted), None)

    # Applying

    @event(ConsentGranted)
    def _granted(
        self, purpose: str, channel: str | None, evidence: dict[str, Any], timestamp: datetime
    ) -> None:
        self._apply(True, purpose, channel, evidence, timestamp)

    @event(ConsentRevoked)
    def _revoked(
        self, purpose: str, channel: str | None, evidence: dict[str, Any], timestamp: datetime
    ) -> None:
        self._apply(False, purpose, channel, evidence, timestamp)

    def _apply(
        self,
        granted: bool,
        purpose: str,
        channel: str | None,
        evidence: dict[str, Any],
        timestamp: datetime,
    ) -> None:
        self.changes.append(
            Change(
                granted=granted,
                purpose=Purpose(purpose),
                channel=Channel(channel) if channel else None,
                at=timestamp,
                evidence=Evidence.of_record(evidence),
            )
        )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _consented(purpose: Purpose) -> None:
    if purpose not in CONSENTED:
        raise InvalidInput(
            f"consent is kept for {', '.join(p.value for p in CONSENTED)}", field="purpose"
        )


def _scope_of(ledger: Consent, purpose: Purpose, channel: Channel | None) -> Channel | None:
    """The channel of the change in force for ``purpose`` there (None: every channel)."""
    for change in reversed(ledger.changes):
        if change.purpose is purpose and change.channel in (None, channel):
            return change.channel
    return None
