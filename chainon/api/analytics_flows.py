"""Bot analytics: each flow's dialogues (started, completed, handed off, timed out,
stopped), and CSAT per team and per agent (average and distribution)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from chainon.api.deps import BrandDep, RuntimeDep
from chainon.domain.errors import InvalidInput
from chainon.projections.flow_stats import FlowCounts, Ratings, csat, flows

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

MAX_DAYS = 366
_DAY = r"^\d{4}-\d{2}-\d{2}$"
From = Annotated[str, Query(alias="from", pattern=_DAY, description="First UTC day.")]
To = Annotated[str, Query(alias="to", pattern=_DAY, description="Last UTC day, included.")]


class FlowOut(BaseModel):
    flow: str
    started: int
    completed: int
    handed_off: int
    timed_out: int
    stopped: int = Field(description="Dialogues an opt-out ended.")

    @classmethod
    def of(cls, c: FlowCounts) -> FlowOut:
        return cls(**vars(c))


class FlowsReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    flows: list[FlowOut]


class RatingsOut(BaseModel):
    name: str | None = Field(description="The team or agent; null: none had the conversation.")
    count: int
    average: float | None
    distribution: dict[str, int] = Field(description="Ratings by score, 1 to 5.")

    @classmethod
    def of(cls, r: Ratings) -> RatingsOut:
        spread = {str(k): v for k, v in r.distribution.items()}
        return cls(name=r.name, count=r.count, average=r.average, distribution=spread)


class CsatReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    by: Literal["team", "agent"]
    ratings: list[RatingsOut]


def _range(start: str, end: str) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise InvalidInput(f"not a date (YYYY-MM-DD): {exc}", field="from") from None
    if last < first:
        raise InvalidInput("must not be before from", field="to")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"the range is over {MAX_DAYS} days", field="to")
    return first, last


@router.get("/flows", response_model=FlowsReport)
async def flow_analytics(brand: BrandDep, runtime: RuntimeDep, start: From, end: To) -> FlowsReport:
    """Each flow's dialogues between two UTC days, by what became of them."""
    first, last = _range(start, end)
    found = await runtime.call(flows, runtime.views.store, brand.id, first, last)
    return FlowsReport(start=first, end=last, flows=[FlowOut.of(c) for c in found])


@router.get("/csat", response_model=CsatReport)
async def csat_analytics(
    brand: BrandDep,
    runtime: RuntimeDep,
    start: From,
    end: To,
    by: Literal["team", "agent"] = "team",
) -> CsatReport:
    """CSAT ratings (a flow's answer stored as ``csat_score``, 1 to 5) between two UTC days,
    per team or per agent the conversation had when rated."""
    first, last = _range(start, end)
    found = await runtime.call(csat, runtime.views.store, brand.id, first, last, by)
    return CsatReport(start=first, end=last, by=by, ratings=[RatingsOut.of(r) for r in found])
