"""Campaigns: draft one (an uploaded CSV or a CRM filter as its audience), dry-run it,
schedule, pause, resume, cancel, and follow its progress.

The upload is streamed to a file on disk and parsed row by row on a worker thread, so a
CSV of 100,000 rows never sits in memory; each bad row is answered with its line and
reason, the good ones are kept.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from chainon.api.deps import BrandDep, RuntimeDep
from chainon.api.schemas import Strict
from chainon.api.uploads import spooled_text
from chainon.campaign_audience import AudienceStore, Recipient, from_crm
from chainon.campaign_dry_run import dry_run
from chainon.campaign_templates import Personalisation
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.campaign import MAX_RATE, MIN_RATE, AudienceKind, Campaign, CampaignState
from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput, NotFound, TransitionRefused
from chainon.projections.analytics import CURRENCY
from chainon.projections.analytics_campaigns import opt_out_rate
from chainon.projections.campaign_stats import cost, counts
from chainon.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["campaigns"])


class FilterIn(Strict):
    tags: list[cmd.Tag] = Field(
        default_factory=list, description="The contact has every one of these tags."
    )
    attributes: dict[
        Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]
    ] = Field(default_factory=dict, description="Each attribute equal to this value.")
    channel: Channel | None = Field(None, description="Reachable on this channel.")
    consent: Annotated[str, Field(max_length=40)] | None = Field(
        None,
        description="`purpose:state[:channel]`, state `granted`, `revoked` or `none`; on the "
        "campaign's channel unless it names one.",
        examples=["marketing:granted"],
    )


class CampaignIn(Strict):
    name: cmd.Name
    template: Annotated[str, Field(min_length=1, max_length=2000)] = Field(
        description="Jinja2 (sandboxed): `Bonjour {{ first_name }}, -20% ce week-end. STOP SMS`."
    )
    defaults: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]] = (
        Field(default_factory=dict, description="A value for each attribute a recipient lacks.")
    )
    channel: Channel = Channel.SMS
    rate_per_second: int = Field(
        20, ge=MIN_RATE, le=MAX_RATE, description="Cap per sender number, in messages/s."
    )
    audience: Literal["csv", "filter"] = Field(
        description="`csv`: upload it with `PUT /v1/campaigns/{id}/audience`; `filter`: the "
        "CRM's contacts matching `filter`, resolved when the campaign starts."
    )
    filter: FilterIn | None = None
    not_after: AwareDatetime | None = Field(
        None, description="Sends held by quiet hours past this are blocked, not sent."
    )


class ScheduleIn(Strict):
    start_at: AwareDatetime | None = Field(None, description="When to start; now if absent.")


class Progress(BaseModel):
    recipients: int
    decided: int = Field(description="Recipients the worker went through (the cursor).")
    queued: int
    deferred: int
    blocked: int
    refused: int = Field(description="Recipients whose personalised text could not be made.")
    sent: int
    delivered: int
    failed: int
    replies: int
    opt_outs: int
    opt_out_rate: float = Field(
        description="opt_outs / queued (the messages that went out); 0 before any did."
    )
    segments: int
    cost: Decimal = Field(description="Of the queued messages at today's prices, in `currency`.")
    currency: str


class CampaignOut(BaseModel):
    id: UUID
    name: str
    state: str
    channel: Channel
    template: str
    defaults: dict[str, str]
    rate_per_second: int
    audience: str
    filter: dict[str, Any] | None
    rejected_rows: int
    start_at: datetime | None
    not_after: datetime | None
    created_at: datetime
    finished_at: datetime | None
    progress: Progress


class RowError(BaseModel):
    line: int
    reason: str


class AudienceOut(BaseModel):
    recipients: int
    rejected: int
    errors: list[RowError] = Field(description="The rejected rows (the first 1,000), by line.")


def _audience(runtime: Runtime) -> AudienceStore:
    return AudienceStore.of(runtime.views.store)


async def _campaign(runtime: Runtime, brand: Brand, campaign_id: UUID) -> Campaign:
    found: Campaign | None = await runtime.call(runtime.core.find, Campaign, campaign_id)
    if found is None or found.brand_id != brand.id:
        raise NotFound(f"no campaign {campaign_id}")
    return found


async def _out(runtime: Runtime, campaign: Campaign) -> CampaignOut:
    c = await runtime.call(lambda: counts(runtime.views.store, campaign.id))
    spent, _ = await runtime.call(lambda: cost(runtime.views.store, campaign.id))
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        state=campaign.state.value,
        channel=campaign.channel,
        template=campaign.template,
        defaults=campaign.defaults,
        rate_per_second=campaign.rate_per_second,
        audience=campaign.audience_kind.value,
        filter=campaign.audience_filter.as_record() if campaign.audience_filter else None,
        rejected_rows=campaign.rejected,
        start_at=campaign.start_at,
        not_after=campaign.not_after,
        created_at=campaign.created_on,
        finished_at=campaign.finished_at,
        progress=Progress(
            recipients=campaign.recipients,
            decided=campaign.cursor,
            queued=c.queued,
            deferred=c.deferred,
            blocked=c.blocked,
            refused=campaign.refused,
            sent=c.sent,
            delivered=c.delivered,
            failed=c.failed,
            replies=c.replies,
            opt_outs=c.opt_outs,
            opt_out_rate=opt_out_rate(c.opt_outs, c.queued) or 0.0,
            segments=c.segments,
            cost=spent,
            currency=CURRENCY,
        ),
    )


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def create_campaign(body: CampaignIn, brand: BrandDep, runtime: RuntimeDep) -> CampaignOut:
    """Drafts a campaign (always `marketing`): its template is checked now."""
    Personalisation(body.template, body.defaults)  # a template that cannot parse: 422
    if (body.audience == "filter") != (body.filter is not None):
        raise InvalidInput("required with a filter audience, and only then", field="filter")
    wanted = body.filter or FilterIn()
    if wanted.channel is not None and wanted.channel is not body.channel:
        raise InvalidInput(
            f"the campaign goes by {body.channel.value}: its filter picks contacts' "
            f"{body.channel.value} addresses (leave channel out, or give {body.channel.value})",
            field="filter.channel",
        )
    command = cmd.CreateCampaign(
        brand_id=brand.id,
        campaign_id=uuid4(),
        name=body.name,
        template=body.template,
        defaults=body.defaults,
        channel=body.channel,
        rate_per_second=body.rate_per_second,
        audience=body.audience,
        tags=wanted.tags,
        attributes=wanted.attributes,
        filter_channel=wanted.channel,
        filter_consent=wanted.consent,
        not_after=body.not_after,
    )
    await runtime.handle(command)
    campaign = await _campaign(runtime, brand, command.campaign_id)
    await runtime.call(
        lambda: _audience(runtime).register(campaign.id, brand.id, campaign.created_on.isoformat())
    )
    return await _out(runtime, campaign)


@router.put("/campaigns/{campaign_id}/audience", response_model=AudienceOut)
async def upload_audience(
    campaign_id: UUID, brand: BrandDep, runtime: RuntimeDep, request: Request
) -> AudienceOut:
    """Replaces a draft's audience with the good rows of a CSV (`Content-Type: text/csv`,
    UTF-8, a header row with a `to` column; other columns are attributes). Each bad row is
    reported by line with its reason, the good rows are kept."""
    campaign = await _campaign(runtime, brand, campaign_id)
    # Checked before the rows are touched: a scheduled campaign's audience is fixed.
    if campaign.audience_kind is not AudienceKind.CSV or campaign.state is not CampaignState.DRAFT:
        raise TransitionRefused("only a draft CSV campaign takes an audience")
    async with spooled_text(request) as spool:
        store = _audience(runtime)
        region = runtime.settings.default_region
        imported = await runtime.call(
            lambda: store.import_csv(campaign.id, campaign.channel, spool, region)
        )
    await runtime.handle(
        cmd.ImportCampaignAudience(
            brand_id=brand.id,
            campaign_id=campaign.id,
            recipients=imported.recipients,
            rejected=imported.rejected,
        )
    )
    errors = await runtime.call(lambda: store.rejected(campaign.id))
    return AudienceOut(
        recipients=imported.recipients,
        rejected=imported.rejected,
        errors=[RowError(line=e.line, reason=e.reason) for e in errors],
    )


@router.post("/campaigns/{campaign_id}/dry-run")
async def dry_run_campaign(
    campaign_id: UUID,
    brand: BrandDep,
    runtime: RuntimeDep,
    sample: Annotated[int, Query(ge=0, le=50)] = 5,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Renders a sample and asks the send policy for the first `limit` recipients, without
    recording anything: who would be blocked or deferred and why, segments, cost."""
    campaign = await _campaign(runtime, brand, campaign_id)
    now = runtime.core.clock()

    def run() -> dict[str, Any]:
        store = _audience(runtime)
        if campaign.audience_kind is AudienceKind.FILTER and campaign.cursor == 0:
            assert campaign.audience_filter is not None
            found = from_crm(
                runtime.views.store, brand.id, campaign.audience_filter, campaign.channel
            )
            recipients = [Recipient(i, a, t) for i, (a, t) in enumerate(found[:limit])]
            size = len(found)
        else:
            recipients, size = store.recipients(campaign.id, 0, limit), store.size(campaign.id)
        # The brand as stored now, not the key's cached one: its consent settings may
        # have changed since (a narrower window, the mention appended).
        current = runtime.core.get(Brand, brand.id)
        return dry_run(runtime.core, current, campaign, recipients, size, now, sample=sample)

    return await runtime.call(run)


@router.post("/campaigns/{campaign_id}/schedule", response_model=CampaignOut)
async def schedule_campaign(
    campaign_id: UUID, body: ScheduleIn, brand: BrandDep, runtime: RuntimeDep
) -> CampaignOut:
    """Schedules (or reschedules) a draft; it starts at `start_at`, or now."""
    await _campaign(runtime, brand, campaign_id)
    command = cmd.ScheduleCampaign(
        brand_id=brand.id, campaign_id=campaign_id, start_at=body.start_at
    )
    await runtime.handle(command)
    await runtime.call(lambda: _audience(runtime).set_active(campaign_id, True))
    return await _out(runtime, await _campaign(runtime, brand, campaign_id))


async def _change(
    runtime: Runtime, brand: Brand, campaign_id: UUID, change: Literal["pause", "resume", "cancel"]
) -> CampaignOut:
    await _campaign(runtime, brand, campaign_id)
    command = cmd.ChangeCampaign(brand_id=brand.id, campaign_id=campaign_id, change=change)
    await runtime.handle(command)
    return await _out(runtime, await _campaign(runtime, brand, campaign_id))


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignOut)
async def pause_campaign(campaign_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> CampaignOut:
    """Stops after the batch in hand; 409 unless running."""
    return await _change(runtime, brand, campaign_id, "pause")


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignOut)
async def resume_campaign(campaign_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> CampaignOut:
    """Goes on from where it paused; 409 unless paused."""
    return await _change(runtime, brand, campaign_id, "resume")


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel_campaign(campaign_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> CampaignOut:
    """Sends no more; what was sent stays. 409 once finished or cancelled."""
    return await _change(runtime, brand, campaign_id, "cancel")


@router.get("/campaigns", response_model=list[CampaignOut])
async def list_campaigns(brand: BrandDep, runtime: RuntimeDep) -> list[CampaignOut]:
    """The brand's campaigns, newest first (the last 200)."""
    ids = await runtime.call(lambda: _audience(runtime).of_brand(brand.id))
    return [await _out(runtime, await _campaign(runtime, brand, i)) for i in ids]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> CampaignOut:
    """The campaign with its progress: queued, deferred, blocked, sent, delivered, failed,
    replies, opt-outs (read models: `min_position`-free, a moment behind the sends)."""
    return await _out(runtime, await _campaign(runtime, brand, campaign_id))
