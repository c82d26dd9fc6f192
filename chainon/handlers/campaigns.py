"""Campaign commands: the brand's (draft, schedule, pause, resume, cancel) and the
worker's (start, a batch decided). A batch's record is decided in the same unit of work
as the batch's sends, so the cursor and the messages commit together."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.campaign import AudienceFilter, AudienceKind, Campaign
from chainon.domain.consent import ConsentCriterion
from chainon.domain.errors import NotFound
from chainon.handlers.loading import Handled, Loader, get


def campaign_of(loader: Loader, brand_id: UUID, campaign_id: UUID) -> Campaign:
    campaign = loader.find(Campaign, campaign_id)
    if campaign is None or campaign.brand_id != brand_id:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def create(loader: Loader, command: cmd.CreateCampaign, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    if loader.find(Campaign, command.campaign_id) is not None:
        return cmd.Outcome(brand_id=brand.id, changed=False, duplicate=True), []
    audience = AudienceKind(command.audience)
    wanted = (
        AudienceFilter(
            tuple(command.tags),
            dict(command.attributes),
            command.filter_channel,
            ConsentCriterion.parse(command.filter_consent, "filter.consent")
            if command.filter_consent
            else None,
        )
        if audience is AudienceKind.FILTER
        else None
    )
    campaign = Campaign.draft(
        command.campaign_id,
        brand.id,
        name=command.name,
        template=command.template,
        defaults=dict(command.defaults),
        channel=command.channel,
        rate_per_second=command.rate_per_second,
        audience=audience,
        audience_filter=wanted,
        not_after=command.not_after,
        at=now,
    )
    return cmd.Outcome(brand_id=brand.id), [campaign]


def import_audience(loader: Loader, command: cmd.ImportCampaignAudience, now: datetime) -> Handled:
    campaign = campaign_of(loader, command.brand_id, command.campaign_id)
    campaign.import_audience(command.recipients, command.rejected, at=now)
    return cmd.Outcome(brand_id=campaign.brand_id), [campaign]


def schedule(loader: Loader, command: cmd.ScheduleCampaign, now: datetime) -> Handled:
    campaign = campaign_of(loader, command.brand_id, command.campaign_id)
    campaign.schedule(command.start_at or now, at=now)
    return cmd.Outcome(brand_id=campaign.brand_id), [campaign]


def change(loader: Loader, command: cmd.ChangeCampaign, now: datetime) -> Handled:
    campaign = campaign_of(loader, command.brand_id, command.campaign_id)
    {"pause": campaign.pause, "resume": campaign.resume, "cancel": campaign.cancel}[command.change](
        at=now
    )
    return cmd.Outcome(brand_id=campaign.brand_id), [campaign]


def start(loader: Loader, command: cmd.StartCampaign, now: datetime) -> Handled:
    campaign = get(loader, Campaign, command.campaign_id)
    if not campaign.start(command.recipients, at=now):
        return cmd.Outcome(brand_id=campaign.brand_id, changed=False), []
    if command.recipients == 0:
        campaign.finish(at=now)
    return cmd.Outcome(brand_id=campaign.brand_id), [campaign]


def record_batch(loader: Loader, command: cmd.RecordCampaignBatch, now: datetime) -> Handled:
    campaign = get(loader, Campaign, command.campaign_id)
    if not campaign.record_batch(command.start, command.upto, command.refused, at=now):
        return cmd.Outcome(brand_id=campaign.brand_id, changed=False), []
    return cmd.Outcome(brand_id=campaign.brand_id), [campaign]
