"""Analytics: a brand's days, by channel, with volumes, cost, delivery and response times."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from chainon.api.deps import BrandDep, RuntimeDep
from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput
from chainon.projections.analytics import CURRENCY, DEFAULT_PRICES, DayReport, campaigns, report
from chainon.projections.analytics_campaigns import CampaignReport

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

MAX_DAYS = 366
MAX_WAIT_SECONDS = 5.0
_DAY = r"^\d{4}-\d{2}-\d{2}$"


class AnalyticsDay(BaseModel):
    day: date
    channel: str
    conversations_opened: int
    conversations_resolved: int
    messages_in: int
    messages_out: int
    messages_out_by_purpose: dict[str, int] = Field(
        description="Messages out by purpose: `conversational`, `service`, `marketing`."
    )
    sms_segments: int
    cost: Decimal = Field(description="At today's prices, in `currency`; a decimal string.")
    unpriced_units: int = Field(description="Segments (SMS) or messages with no price set.")
    delivered: int
    failed: int
    expired: int
    delivery_rate: float | None = Field(description="delivered / all outcomes; null: none.")
    failures: dict[str, int] = Field(description="Failed messages by reason.")
    read: int = Field(description="RCS messages opened (read receipts), on the day read.")
    fallbacks: int = Field(description="Sends switched from RCS to their fallback channel.")
    fallbacks_by_reason: dict[str, int] = Field(
        description="Fallbacks by reason: `not_capable`, `failed`, `deadline`."
    )
    first_response_p50: float | None = Field(description="Seconds, nearest-rank percentile.")
    first_response_p90: float | None
    resolution_p50: float | None = Field(description="Seconds from opened to resolved.")
    resolution_p90: float | None
    csat_average: float | None
    csat_count: int

    @classmethod
    def of(cls, d: DayReport) -> AnalyticsDay:
        return cls(
            day=d.day,
            channel=d.channel,
            conversations_opened=d.conversations_opened,
            conversations_resolved=d.conversations_resolved,
            messages_in=d.messages_in,
            messages_out=d.messages_out,
            messages_out_by_purpose=d.messages_out_by_purpose,
            sms_segments=d.sms_segments,
            cost=d.cost,
            unpriced_units=d.unpriced_units,
            delivered=d.delivered,
            failed=d.failed,
            expired=d.expired,
            delivery_rate=d.delivery_rate,
            failures=d.failures,
            read=d.read,
            fallbacks=d.fallbacks,
            fallbacks_by_reason=d.fallbacks_by_reason,
            first_response_p50=d.first_response_p50,
            first_response_p90=d.first_response_p90,
            resolution_p50=d.resolution_p50,
            resolution_p90=d.resolution_p90,
            csat_average=d.csat_average,
            csat_count=d.csat_count,
        )


class AnalyticsCampaign(BaseModel):
    """A campaign's figures over the report's days (all its days: its `progress`)."""

    campaign_id: UUID
    queued: int = Field(description="Messages that went out to a channel.")
    sent: int
    delivered: int
    failed: int = Field(description="Failed or expired (no receipt in time).")
    replies: int = Field(description="Messages the recipients wrote after the campaign's.")
    opt_outs: int
    opt_out_rate: float | None = Field(description="opt_outs / queued; null: none went out.")
    segments: int
    cost: Decimal = Field(description="At today's prices, in `currency`; a decimal string.")
    unpriced_units: int = Field(description="Segments (SMS) or messages with no price set.")

    @classmethod
    def of(cls, c: CampaignReport) -> AnalyticsCampaign:
        return cls(
            campaign_id=c.campaign_id,
            queued=c.queued,
            sent=c.sent,
            delivered=c.delivered,
            failed=c.failed,
            replies=c.replies,
            opt_outs=c.opt_outs,
            opt_out_rate=c.opt_out_rate,
            segments=c.segments,
            cost=c.cost,
            unpriced_units=c.unpriced_units,
        )


class AnalyticsReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    currency: str
    days: list[AnalyticsDay] = Field(description="Days and channels with activity, in order.")
    campaigns: list[AnalyticsCampaign] = Field(
        description="Campaigns with activity on those days, each summed over them."
    )
    position: int = Field(description="The write position this report reflects.")
    caught_up: bool | None = Field(
        None, description="With min_position: whether the report reached it before the wait ended."
    )


def parse_day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)", field=field) from None


@router.get("", response_model=AnalyticsReport)
async def analytics(
    brand: BrandDep,
    runtime: RuntimeDep,
    start: Annotated[str, Query(alias="from", pattern=_DAY, description="First UTC day.")],
    end: Annotated[str, Query(alias="to", pattern=_DAY, description="Last UTC day, included.")],
    channel: Channel | None = None,
    min_position: Annotated[
        int | None,
        Query(ge=0, description="Wait (up to 5 s) until the report includes this write."),
    ] = None,
) -> AnalyticsReport:
    """Per UTC day and channel, from ``from`` to ``to`` (at most 366 days)."""
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if last < first:
        raise InvalidInput("must not be before from", field="to")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"the range is over {MAX_DAYS} days", field="to")
    views = runtime.views
    caught_up = None
    if min_position is not None:
        caught_up = await runtime.caught_up(min_position, MAX_WAIT_SECONDS)
    position = await runtime.call(lambda: views.position)
    days = await runtime.call(
        report,
        views.store,
        brand.id,
        first,
        last,
        DEFAULT_PRICES,
        channel.value if channel else None,
    )
    by_campaign = await runtime.call(
        campaigns,
        views.store,
        brand.id,
        first,
        last,
        DEFAULT_PRICES,
        channel.value if channel else None,
    )
    return AnalyticsReport(
        start=first,
        end=last,
        currency=CURRENCY,
        days=[AnalyticsDay.of(d) for d in days],
        campaigns=[AnalyticsCampaign.of(c) for c in by_campaign],
        position=max(position, min_position) if caught_up and min_position else position,
        caught_up=caught_up,
    )
