"""Analytics: a brand's days, by channel, with volumes, cost, delivery and response times."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from chainon.api.deps import BrandDep, RuntimeDep
from domain.channels import Channel
from domain.errors import InvalidInput
from projections.analytics import CURRENCY, DEFAULT_PRICES, DayReport, report

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


class AnalyticsReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    currency: str
    days: list[AnalyticsDay] = Field(description="Days and channels with activity, in order.")
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
    return AnalyticsReport(
        start=first,
        end=last,
        currency=CURRENCY,
        days=[AnalyticsDay.of(d) for d in days],
        position=max(position, min_position) if caught_up and min_position else position,
        caught_up=caught_up,
    )
