"""Campaign figures in the analytics read model, from hand-made facts through a real SQLite
read-model store: counted once whatever the batches, summed per campaign over the days
asked, and equal over all days to the campaign_stats progress that GET /v1/campaigns shows."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from chainon.projections.analytics import Analytics, campaigns
from chainon.projections.campaign_stats import CampaignStats, cost, counts
from chainon.projections.projection import Fact
from chainon.projections.sqlite import SQLiteReadModels
from tests.integration.test_analytics import BRAND, DAY, OTHER_BRAND, T0, US, Story

CAMPAIGN, OTHER = str(uuid4()), str(uuid4())
NEXT_DAY = DAY + timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteReadModels]:
    store = SQLiteReadModels(tmp_path / "v.sqlite3")
    store.create(Analytics())
    store.create(CampaignStats())
    yield store
    store.close()


def campaign_send(
    s: Story, cid: str, kind: str = "MessageQueued", campaign: str = CAMPAIGN, **more: object
) -> str:
    mid = str(uuid4())
    data: dict[str, object] = {
        "message_id": mid,
        "channel": "sms",
        "sender": "+33939000001",
        "recipient": "+33612345678",
        "body": "Promo -20% STOP SMS",
        "encoding": "gsm7",
        "segments": 2,
        "replaced": [],
        "request_id": None,
        "purpose": "marketing",
        "campaign_id": campaign,
    }
    data.update(more)
    s.add(cid, kind, T0, **data)
    return mid


def history() -> Story:
    """A campaign over two days: SMS in France (2 segments), one to the US, one email; a
    deferred message released, one blocked, outcomes of every kind, replies and a STOP;
    beside it, a plain send and another brand's campaign."""
    s = Story()
    later = T0 + timedelta(days=1)
    fr = s.open(T0)
    delivered = campaign_send(s, fr)
    s.add(fr, "MessageSent", T0, message_id=delivered, provider_message_id="p1")
    s.add(fr, "MessageDelivered", later, message_id=delivered)
    s.inbound(fr, later)  # a reply, on the second day
    s.add(
        fr,
        "ConsentRequestRead",
        later,
        message_id=str(uuid4()),
        request="opt_out",
        rule="keyword.stop",
        certain=True,
    )
    us = s.open(T0)
    failed = campaign_send(s, us, recipient=US, segments=1)
    s.add(us, "MessageFailed", T0, message_id=failed, reason="absent")
    s.add(us, "MessageDelivered", later, message_id=failed)  # too late: stays failed
    mail = s.open(T0)
    overdue = campaign_send(s, mail, channel="email", recipient="a@example.fr", segments=1)
    s.add(mail, "MessageSent", T0, message_id=overdue, provider_message_id="p2")
    s.add(mail, "ReceiptOverdue", later, message_id=overdue, reason="no receipt")
    held = s.open(T0)
    deferred = campaign_send(s, held, "MessageDeferred", release_at=later.isoformat())
    s.add(
        held,
        "MessageQueued",
        later,
        message_id=deferred,
        channel="sms",
        sender="+33939000001",
        recipient="+33612345678",
        body="Promo",
        encoding="gsm7",
        segments=1,
        replaced=[],
        request_id=None,
        purpose="marketing",
        campaign_id=None,
    )
    campaign_send(s, held, "MessageBlocked", reason="opted_out")
    plain = s.open(T0)
    s.outbound(plain, T0)  # no campaign
    s.inbound(plain, later)
    theirs = s.open(T0, brand=OTHER_BRAND)
    campaign_send(s, theirs, campaign=OTHER)
    return s


def in_batches(store: SQLiteReadModels, facts: list[Fact], seed: int) -> None:
    """As a crashed runner or Kafka would: random batches, some twice."""
    rng = random.Random(seed)
    start = 0
    while start < len(facts):
        end = min(len(facts), start + rng.randint(1, 5))
        for _ in range(rng.choice([1, 1, 2])):
            store.apply(Analytics(), facts[start:end])
            store.apply(CampaignStats(), facts[start:end])
        start = end


def test_each_campaign_is_counted_once_and_summed_over_the_days(
    store: SQLiteReadModels,
) -> None:
    in_batches(store, history().facts, seed=7)
    (both_days,) = campaigns(store, BRAND, DAY, NEXT_DAY)
    assert both_days.campaign_id == UUID(CAMPAIGN)
    assert (both_days.queued, both_days.sent, both_days.delivered, both_days.failed) == (
        4,
        2,
        1,
        2,
    )
    assert (both_days.replies, both_days.opt_outs, both_days.opt_out_rate) == (1, 1, 0.25)
    assert both_days.segments == 2 + 1 + 1 + 1
    # FR SMS: 2 + 1 segments at 0.045; US SMS: 1 at 0.0079; email: free
    assert both_days.cost == Decimal("0.045") * 3 + Decimal("0.0079")
    (first,) = campaigns(store, BRAND, DAY, DAY)
    assert (first.queued, first.delivered, first.failed, first.replies) == (3, 0, 1, 0)
    (second,) = campaigns(store, BRAND, NEXT_DAY, NEXT_DAY)
    assert (second.queued, second.delivered, second.failed, second.opt_outs) == (1, 1, 1, 1)
    (email,) = campaigns(store, BRAND, DAY, NEXT_DAY, channel="email")
    assert (email.queued, email.failed, email.cost) == (1, 1, Decimal(0))
    assert [c.campaign_id for c in campaigns(store, OTHER_BRAND, DAY, DAY)] == [UUID(OTHER)]


def test_over_every_day_the_figures_are_the_campaign_progress(store: SQLiteReadModels) -> None:
    in_batches(store, history().facts, seed=11)
    (total,) = campaigns(store, BRAND, DAY - timedelta(days=30), NEXT_DAY)
    progress = counts(store, UUID(CAMPAIGN))
    for name in ("queued", "sent", "delivered", "failed", "replies", "opt_outs", "segments"):
        assert getattr(total, name) == getattr(progress, name), name
    assert total.cost == cost(store, UUID(CAMPAIGN))[0]


def test_any_batching_gives_the_rows_of_one_pass(tmp_path: Path) -> None:
    facts = history().facts
    dumps = []
    for seed in (0, 1, 2):
        store = SQLiteReadModels(tmp_path / f"{seed}.sqlite3")
        store.create(Analytics())
        store.create(CampaignStats())
        if seed == 0:
            store.apply(Analytics(), facts)  # one pass, as a rebuild reads the store
        else:
            in_batches(store, facts, seed)
        with store.transaction() as cur:
            dumps.append(store.dump_in(cur, Analytics()))
        store.close()
    assert dumps[0] == dumps[1] == dumps[2]
    assert len(dumps[0]["analytics_campaigns"]) == 6  # (day, channel, country) rows
