"""Commands of a campaign's life: drafted, its audience imported, scheduled, changed
(pause, resume, cancel), started by the worker and recorded batch by batch."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from chainon.domain.channels import Channel
from chainon.domain.command_base import Command, Name, Tag


class CreateCampaign(Command):
    """A campaign drafted: its template, defaults, channel, pace and audience kind."""

    type: Literal["CreateCampaign"] = "CreateCampaign"
    brand_id: UUID
    campaign_id: UUID
    name: Name
    template: Annotated[str, Field(min_length=1, max_length=2000)]
    defaults: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]]
    channel: Channel = Channel.SMS
    rate_per_second: int
    audience: Literal["csv", "filter"]
    tags: list[Tag] = Field(default_factory=list)
    attributes: dict[
        Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]
    ] = Field(default_factory=dict)
    filter_channel: Channel | None = None
    # purpose:state[:channel] (``domain.consent.ConsentCriterion``); older records: none.
    filter_consent: Annotated[str, Field(max_length=40)] | None = None
    not_after: AwareDatetime | None = None

    @model_validator(mode="after")
    def _filter_on_its_channel(self) -> CreateCampaign:
        """A filter picks each contact's address on its channel: another channel than the
        campaign's would hand an email campaign phone numbers."""
        if self.filter_channel is not None and self.filter_channel is not self.channel:
            raise ValueError(
                f"filter_channel {self.filter_channel.value} differs from the campaign's "
                f"channel {self.channel.value}"
            )
        return self


class ImportCampaignAudience(Command):
    """An uploaded CSV's good rows were stored beside the campaign."""

    type: Literal["ImportCampaignAudience"] = "ImportCampaignAudience"
    brand_id: UUID
    campaign_id: UUID
    recipients: int
    rejected: int


class ScheduleCampaign(Command):
    type: Literal["ScheduleCampaign"] = "ScheduleCampaign"
    brand_id: UUID
    campaign_id: UUID
    start_at: AwareDatetime | None = None  # now, when absent


class ChangeCampaign(Command):
    """Pause, resume or cancel."""

    type: Literal["ChangeCampaign"] = "ChangeCampaign"
    brand_id: UUID
    campaign_id: UUID
    change: Literal["pause", "resume", "cancel"]


class StartCampaign(Command):
    """The worker fixed the audience (``recipients``) and begins."""

    type: Literal["StartCampaign"] = "StartCampaign"
    campaign_id: UUID
    recipients: int


class RecordCampaignBatch(Command):
    """Recipients ``start`` to ``upto`` (exclusive) were decided: saved with their sends."""

    type: Literal["RecordCampaignBatch"] = "RecordCampaignBatch"
    campaign_id: UUID
    start: int
    upto: int
    refused: int = 0  # recipients whose text could not be personalised
