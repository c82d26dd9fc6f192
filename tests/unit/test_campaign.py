"""A campaign's life and its cursor: a batch is recorded once, in audience order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from chainon.domain.campaign import AudienceFilter, AudienceKind, Campaign, CampaignState
from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput, TransitionRefused

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def drafted(kind: AudienceKind = AudienceKind.CSV) -> Campaign:
    return Campaign.draft(
        uuid4(),
        uuid4(),
        name="Soldes",
        template="Bonjour {{ first_name }} -20% STOP SMS",
        defaults={"first_name": "client"},
        channel=Channel.SMS,
        rate_per_second=50,
        audience=kind,
        audience_filter=AudienceFilter(tags=("vip",)) if kind is AudienceKind.FILTER else None,
        at=T0,
    )


def test_a_campaign_goes_from_draft_to_finished_recording_each_batch_once() -> None:
    campaign = drafted()
    campaign.import_audience(5, 2, at=T0)
    campaign.schedule(T0 + timedelta(hours=1), at=T0)
    assert campaign.state is CampaignState.SCHEDULED
    assert not campaign.due(T0)
    assert campaign.due(T0 + timedelta(hours=1))
    assert campaign.start(5, at=T0 + timedelta(hours=1))
    assert not campaign.start(5, at=T0 + timedelta(hours=1))  # a second worker
    assert campaign.record_batch(0, 3, 1, at=T0)
    assert not campaign.record_batch(0, 3, 0, at=T0)  # again: ignored
    assert not campaign.record_batch(1, 4, 0, at=T0)  # not where it is
    assert campaign.cursor == 3
    assert campaign.refused == 1
    campaign.pause(at=T0)
    with pytest.raises(TransitionRefused):
        campaign.pause(at=T0)
    campaign.resume(at=T0)
    assert campaign.record_batch(3, 5, 1, at=T0)
    assert campaign.state is CampaignState.FINISHED
    assert campaign.refused == 2
    with pytest.raises(TransitionRefused):
        campaign.cancel(at=T0)
    names = [type(e).__name__ for e in campaign.collect_events()]
    assert names == [
        "Drafted",
        "AudienceImported",
        "Scheduled",
        "Started",
        "BatchSent",
        "Paused",
        "Resumed",
        "BatchSent",
        "Finished",
    ]


def test_a_cancelled_campaign_records_no_more_batches() -> None:
    campaign = drafted(AudienceKind.FILTER)
    campaign.schedule(T0, at=T0)
    campaign.start(10, at=T0)
    campaign.cancel(at=T0)
    assert not campaign.record_batch(0, 5, 0, at=T0)
    assert campaign.state is CampaignState.CANCELLED
    with pytest.raises(TransitionRefused):
        campaign.import_audience(1, 0, at=T0)  # a filter's audience is not uploaded


def test_a_csv_campaign_without_recipients_cannot_be_scheduled() -> None:
    with pytest.raises(TransitionRefused):
        drafted().schedule(T0, at=T0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": " "}, "name"),
        ({"template": ""}, "template"),
        ({"rate_per_second": 0}, "rate_per_second"),
    ],
)
def test_a_bad_draft_names_its_field(change: dict[str, object], field: str) -> None:
    given: dict[str, object] = {
        "name": "Soldes",
        "template": "x",
        "defaults": {},
        "channel": Channel.SMS,
        "rate_per_second": 10,
        "audience": AudienceKind.CSV,
        "at": T0,
        **change,
    }
    with pytest.raises(InvalidInput) as refused:
        Campaign.draft(uuid4(), uuid4(), **given)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_every_event_has_an_explicit_topic() -> None:
    events = [
        v for v in vars(Campaign).values() if isinstance(v, type) and issubclass(v, Campaign.Event)
    ]
    assert len(events) >= 10
    assert all(f"chainon:Campaign.{e.__name__}" == e.TOPIC for e in events)
