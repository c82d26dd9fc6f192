"""A campaign's command refuses a filter on another channel than the campaign's own."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import ValidationError

from chainon.domain.campaign_commands import CreateCampaign
from chainon.domain.channels import Channel


def draft(channel: Channel, filter_channel: Channel | None) -> CreateCampaign:
    return CreateCampaign(
        brand_id=uuid4(),
        campaign_id=uuid4(),
        name="Soldes",
        template="Soldes -20 %. STOP SMS",
        defaults={},
        channel=channel,
        rate_per_second=20,
        audience="filter",
        filter_channel=filter_channel,
    )


def test_a_filter_on_the_campaigns_channel_or_none_is_taken() -> None:
    assert draft(Channel.EMAIL, Channel.EMAIL).filter_channel is Channel.EMAIL
    assert draft(Channel.SMS, None).filter_channel is None


def test_a_filter_on_another_channel_is_refused() -> None:
    with pytest.raises(ValidationError, match="differs from the campaign's channel email"):
        draft(Channel.EMAIL, Channel.SMS)
