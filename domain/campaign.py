"""A marketing campaign: one message to each recipient of an audience, at most once each.

The audience is a numbered list (an uploaded CSV's good rows, or a CRM filter resolved to
such a list when the campaign starts). The worker sends it in order, a batch at a time,
and records how far it got (``BatchSent``'s ``upto``) in the same transaction as the
batch's sends; each recipient's message id is derived from the campaign and the address
(``ids.campaign_message_id``), so a batch decided again after a crash finds its messages
already there. Together: nobody twice, nobody skipped.

States: draft → scheduled → running ⇄ paused → finished; cancelled from any but finished.
A campaign is always marketing: the send policy (consent, quiet hours) decides each send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain.channels import Channel
from chainon.domain.consent import ConsentCriterion
from chainon.domain.errors import InvalidInput, TransitionRefused

MAX_NAME = 200
MAX_TEMPLATE = 2000
MIN_RATE = 1
MAX_RATE = 10_000  # messages per second per sender number


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class AudienceKind(StrEnum):
    CSV = "csv"
    FILTER = "filter"


@dataclass(frozen=True)
class AudienceFilter:
    """CRM contacts with every one of ``tags``, each attribute equal, reachable on
    ``channel``, in the ``consent`` state (on the campaign's channel unless it names one).
    Records drafted before ``consent`` existed have none: no consent criterion."""

    tags: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    channel: Channel | None = None
    consent: ConsentCriterion | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "attributes": dict(self.attributes),
            "channel": self.channel.value if self.channel else None,
            "consent": str(self.consent) if self.consent else None,
        }

    @classmethod
    def of(cls, record: dict[str, Any]) -> AudienceFilter:
        channel = record.get("channel")
        consent = record.get("consent")
        return cls(
            tuple(record.get("tags", ())),
            dict(record.get("attributes", {})),
            Channel(channel) if channel else None,
            ConsentCriterion.parse(consent) if consent else None,
        )


_ACTIVE = frozenset({CampaignState.RUNNING, CampaignState.PAUSED})


class Campaign(Aggregate):
    TOPIC = "chainon:Campaign"

    class Event(Aggregate.Event):
        TOPIC = "chainon:Campaign.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:Campaign.Created"

    class Drafted(Created):
        TOPIC = "chainon:Campaign.Drafted"
        brand_id: UUID
        name: str
        template: str
        defaults: dict[str, str]
        channel: str
        rate_per_second: int
        audience_kind: str
        audience_filter: dict[str, Any] | None
        not_after: datetime | None

    class AudienceImported(Event):
        """An uploaded CSV's good rows were stored (``recipients``); ``rejected`` rows
        were reported by line and left out."""

        TOPIC = "chainon:Campaign.AudienceImported"
        recipients: int
        rejected: int

    class Scheduled(Event):
        TOPIC = "chainon:Campaign.Scheduled"
        start_at: datetime

    class Started(Event):
        """The audience is fixed (a filter resolved to ``recipients``) and sending began."""

        TOPIC = "chainon:Campaign.Started"
        recipients: int

    class BatchSent(Event):
        """Recipients up to ``upto`` (exclusive, in audience order) were decided, in the
        same transaction as their sends; ``refused`` of them had no message (their
        personalised text could not be made). What the sends became (queued, deferred,
        blocked, sent…) is in the messages' own events."""

        TOPIC = "chainon:Campaign.BatchSent"
        upto: int
        refused: int

    class Paused(Event):
        TOPIC = "chainon:Campaign.Paused"

    class Resumed(Event):
        TOPIC = "chainon:Campaign.Resumed"

    class Cancelled(Event):
        TOPIC = "chainon:Campaign.Cancelled"

    class Finished(Event):
        TOPIC = "chainon:Campaign.Finished"

    @event(Drafted)
    def __init__(
        self,
        brand_id: UUID,
        name: str,
        template: str,
        defaults: dict[str, str],
        channel: str,
        rate_per_second: int,
        audience_kind: str,
        audience_filter: dict[str, Any] | None,
        not_after: datetime | None,
    ) -> None:
        self.brand_id = brand_id
        self.name = name
        self.template = template
        self.defaults = dict(defaults)
        self.channel = Channel(channel)
        self.rate_per_second = rate_per_second
        self.audience_kind = AudienceKind(audience_kind)
        self.audience_filter = AudienceFilter.of(audience_filter) if audience_filter else None
        self.not_after = not_after
        self.state = CampaignState.DRAFT
        self.recipients = 0
        self.rejected = 0
        self.start_at: datetime | None = None
        self.cursor = 0
        self.refused = 0
        self.finished_at: datetime | None = None

    @classmethod
    def draft(
        cls,
        campaign_id: UUID,
        brand_id: UUID,
        *,
        name: str,
        template: str,
        defaults: dict[str, str],
        channel: Channel,
        rate_per_second: int,
        audience: AudienceKind,
        audience_filter: AudienceFilter | None = None,
        not_after: datetime | None = None,
        at: datetime,
    ) -> Campaign:
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidInput(f"1 to {MAX_NAME} characters", field="name")
        if not template.strip() or len(template) > MAX_TEMPLATE:
            raise InvalidInput(f"1 to {MAX_TEMPLATE} characters", field="template")
        if not MIN_RATE <= rate_per_second <= MAX_RATE:
            raise InvalidInput(f"from {MIN_RATE} to {MAX_RATE}", field="rate_per_second")
        if (audience is AudienceKind.FILTER) != (audience_filter is not None):
            raise InvalidInput("a filter campaign needs a filter, a CSV one none", field="filter")
        return cls._create(
            cls.Drafted,
            id=campaign_id,
            timestamp=at,
            brand_id=brand_id,
            name=name,
            template=template,
            defaults=dict(defaults),
            channel=channel.value,
            rate_per_second=rate_per_second,
            audience_kind=audience.value,
            audience_filter=audience_filter.as_record() if audience_filter else None,
            not_after=not_after,
        )

    # The audience

    def import_audience(self, recipients: int, rejected: int, *, at: datetime) -> None:
        if self.audience_kind is not AudienceKind.CSV:
            raise TransitionRefused("this campaign's audience is a CRM filter")
        if self.state is not CampaignState.DRAFT:
            raise TransitionRefused(f"the audience is fixed once {self.state.value}")
        self._imported(recipients=recipients, rejected=rejected, timestamp=at)

    @event(AudienceImported)
    def _imported(self, recipients: int, rejected: int, timestamp: datetime) -> None:
        self.recipients, self.rejected = recipients, rejected

    # Its life

    def schedule(self, start_at: datetime, *, at: datetime) -> None:
        if self.state not in (CampaignState.DRAFT, CampaignState.SCHEDULED):
            raise TransitionRefused(f"a {self.state.value} campaign cannot be scheduled")
        if self.audience_kind is AudienceKind.CSV and self.recipients == 0:
            raise TransitionRefused("upload the audience first: it has no recipient")
        self._scheduled(start_at=start_at, timestamp=at)

    @event(Scheduled)
    def _scheduled(self, start_at: datetime, timestamp: datetime) -> None:
        self.state = CampaignState.SCHEDULED
        self.start_at = start_at

    def due(self, now: datetime) -> bool:
        return (
            self.state is CampaignState.SCHEDULED
            and self.start_at is not None
            and self.start_at <= now
        )

    def start(self, recipients: int, *, at: datetime) -> bool:
        """False when it started already (a second worker, a repeat)."""
        if self.state is not CampaignState.SCHEDULED:
            return False
        self._started(recipients=recipients, timestamp=at)
        return True

    @event(Started)
    def _started(self, recipients: int, timestamp: datetime) -> None:
        self.state = CampaignState.RUNNING
        self.recipients = recipients

    def record_batch(self, start: int, upto: int, refused: int, *, at: datetime) -> bool:
        """False for a batch recorded before (a worker restarted after its commit)."""
        if self.state not in _ACTIVE or start != self.cursor or upto <= start:
            return False
        self._batch_sent(upto=upto, refused=refused, timestamp=at)
        if self.cursor >= self.recipients:
            self._finished(timestamp=at)
        return True

    @event(BatchSent)
    def _batch_sent(self, upto: int, refused: int, timestamp: datetime) -> None:
        self.cursor = upto
        self.refused += refused

    def finish(self, *, at: datetime) -> bool:
        if self.state is not CampaignState.RUNNING or self.cursor < self.recipients:
            return False
        self._finished(timestamp=at)
        return True

    @event(Finished)
    def _finished(self, timestamp: datetime) -> None:
        self.state = CampaignState.FINISHED
        self.finished_at = timestamp

    def pause(self, *, at: datetime) -> None:
        if self.state is not CampaignState.RUNNING:
            raise TransitionRefused(f"only a running campaign pauses; this one is {self.state}")
        self._paused(timestamp=at)

    @event(Paused)
    def _paused(self, timestamp: datetime) -> None:
        self.state = CampaignState.PAUSED

    def resume(self, *, at: datetime) -> None:
        if self.state is not CampaignState.PAUSED:
            raise TransitionRefused(f"only a paused campaign resumes; this one is {self.state}")
        self._resumed(timestamp=at)

    @event(Resumed)
    def _resumed(self, timestamp: datetime) -> None:
        self.state = CampaignState.RUNNING

    def cancel(self, *, at: datetime) -> None:
        if self.state in (CampaignState.CANCELLED, CampaignState.FINISHED):
            raise TransitionRefused(f"the campaign is {self.state.value} already")
        self._cancelled(timestamp=at)

    @event(Cancelled)
    def _cancelled(self, timestamp: datetime) -> None:
        self.state = CampaignState.CANCELLED
