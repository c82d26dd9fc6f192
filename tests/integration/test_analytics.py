"""The analytics read model, from hand-made facts through a real SQLite read-model store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from chainon.projections.analytics import Analytics, report
from chainon.projections.projection import Fact
from chainon.projections.sqlite import SQLiteReadModels

BRAND = str(uuid4())
OTHER_BRAND = str(uuid4())
DAY = date(2025, 3, 14)
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
FR, US = "+33612345678", "+12025550143"
BRAND_SMS = "+33939000001"


class Story:
    """Facts as the store records them: one aggregate per conversation, positions growing."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.versions: dict[str, int] = {}

    def add(self, cid: str, kind: str, at: datetime, **data: Any) -> Fact:
        self.versions[cid] = self.versions.get(cid, 0) + 1
        fact = Fact(
            type=f"Conversation.{kind}",
            aggregate_id=cid,
            aggregate_version=self.versions[cid],
            position=len(self.facts) + 1,
            timestamp=at,
            data=data,
        )
        self.facts.append(fact)
        return fact

    def open(self, at: datetime, brand: str = BRAND) -> str:
        cid = str(uuid4())
        self.add(cid, "Opened", at, brand_id=brand, contact_id=str(uuid4()), number=1)
        return cid

    def inbound(
        self, cid: str, at: datetime, sender: str = FR, channel: str = "sms", **v2: Any
    ) -> None:
        self.add(
            cid,
            "MessageReceived",
            at,
            message_id=str(uuid4()),
            channel=channel,
            sender=sender,
            recipient=BRAND_SMS,
            body="Bonjour",
            provider="sandbox",
            provider_message_id=str(uuid4()),
            request_id=None,
            **v2,
        )

    def outbound(
        self, cid: str, at: datetime, to: str = FR, segments: int = 1, channel: str = "sms"
    ) -> str:
        mid = str(uuid4())
        self.add(
            cid,
            "MessageQueued",
            at,
            message_id=mid,
            channel=channel,
            sender=BRAND_SMS,
            recipient=to,
            body="Réponse",
            encoding="gsm7",
            segments=segments,
            replaced=[],
            request_id=None,
        )
        return mid


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteReadModels]:
    store = SQLiteReadModels(tmp_path / "v.sqlite3")
    store.create(Analytics())
    yield store
    store.close()


def dump(store: SQLiteReadModels) -> dict[str, list[str]]:
    with store.transaction() as cur:
        return store.dump_in(cur, Analytics())


def test_counts_cost_delivery_and_failures_by_day_channel_and_country(
    store: SQLiteReadModels,
) -> None:
    s = Story()
    a = s.open(T0)
    s.inbound(a, T0)
    m1 = s.outbound(a, T0 + timedelta(minutes=2), segments=3)
    m2 = s.outbound(a, T0 + timedelta(minutes=3), segments=1)
    s.add(a, "MessageDelivered", T0 + timedelta(minutes=4), message_id=m1)
    s.add(a, "MessageFailed", T0 + timedelta(minutes=5), message_id=m2, reason="absent")
    b = s.open(T0 + timedelta(hours=1))
    s.inbound(b, T0 + timedelta(hours=1), sender=US)
    m3 = s.outbound(b, T0 + timedelta(hours=1, minutes=1), to=US, segments=2)
    m4 = s.outbound(b, T0 + timedelta(hours=1, minutes=2), to=US)
    s.add(b, "MessageFailed", T0 + timedelta(hours=2), message_id=m3, reason="absent")
    # the next day: an outcome counts on its own day, for the message's channel and country
    s.add(b, "MessageExpired", T0 + timedelta(days=1), message_id=m4)
    s.add(b, "Resolved", T0 + timedelta(days=1, hours=1), by="camille")
    e = s.open(T0 + timedelta(hours=3))
    s.inbound(e, T0 + timedelta(hours=3), sender="lea@example.com", channel="email")
    s.outbound(e, T0 + timedelta(hours=4), to="lea@example.com", channel="email")
    other = s.open(T0, brand=OTHER_BRAND)
    s.inbound(other, T0)
    assert store.apply(Analytics(), s.facts) == 4

    prices = {("sms", "FR"): Decimal("0.05"), ("sms", ""): Decimal("0.01")}
    days = report(store, BRAND, DAY, DAY + timedelta(days=1), prices)
    assert [(d.day, d.channel) for d in days] == [
        (DAY, "email"),
        (DAY, "sms"),
        (DAY + timedelta(days=1), "sms"),
    ]
    email, sms, next_day = days
    assert (sms.conversations_opened, sms.messages_in, sms.messages_out) == (2, 2, 4)
    assert sms.sms_segments == 3 + 1 + 2 + 1
    assert sms.cost == Decimal("0.05") * 4 + Decimal("0.01") * 3  # FR 4 segments, US 3
    assert (sms.delivered, sms.failed, sms.expired) == (1, 2, 0)
    assert sms.delivery_rate == pytest.approx(1 / 3)
    assert sms.failures == {"absent": 2}
    assert (email.messages_in, email.messages_out, email.sms_segments) == (1, 1, 0)
    assert (email.cost, email.unpriced_units, email.delivery_rate) == (Decimal(0), 1, None)
    assert (next_day.expired, next_day.conversations_resolved, next_day.messages_out) == (1, 1, 0)
    assert next_day.delivery_rate == 0.0
    assert next_day.resolution_p50 == timedelta(days=1).total_seconds()
    assert (sms.fallbacks, sms.csat_count, sms.csat_average) == (0, 0, None)

    only_email = report(store, BRAND, DAY, DAY, prices, channel="email")
    assert [(d.channel, d.messages_in) for d in only_email] == [("email", 1)]
    assert [d.messages_in for d in report(store, OTHER_BRAND, DAY, DAY)] == [1]
    assert report(store, BRAND, DAY - timedelta(days=5), DAY - timedelta(days=1)) == []


def test_default_prices_and_unpriced_countries(store: SQLiteReadModels) -> None:
    s = Story()
    a = s.open(T0)
    s.outbound(a, T0, segments=2)
    b = s.open(T0)
    s.outbound(b, T0, to="+4915123456789", segments=5)  # Germany: no default price
    store.apply(Analytics(), s.facts)
    (sms,) = report(store, BRAND, DAY, DAY)
    assert (sms.cost, sms.unpriced_units) == (Decimal("0.090"), 5)


def test_first_response_and_resolution_percentiles(store: SQLiteReadModels) -> None:
    s = Story()
    waits = [30, 60, 90, 120, 600]
    for i, wait in enumerate(waits):
        cid = s.open(T0 + timedelta(minutes=i))
        s.inbound(cid, T0 + timedelta(minutes=i))
        s.outbound(cid, T0 + timedelta(minutes=i, seconds=wait))
        s.outbound(cid, T0 + timedelta(minutes=i, seconds=wait + 1000))  # not a first response
        s.inbound(cid, T0 + timedelta(hours=2))
        s.outbound(cid, T0 + timedelta(hours=3))  # after a second inbound: still not one
        s.add(cid, "Resolved", T0 + timedelta(minutes=i, hours=4), by="api")
    store.apply(Analytics(), s.facts)
    (sms,) = report(store, BRAND, DAY, DAY)
    assert (sms.first_response_p50, sms.first_response_p90) == (90.0, 600.0)
    assert sms.resolution_p50 == sms.resolution_p90 == 4 * 3600.0
    assert sms.conversations_resolved == 5


def test_a_brand_initiated_conversation_responds_from_the_consumers_first_message(
    store: SQLiteReadModels,
) -> None:
    s = Story()
    cid = s.open(T0)
    s.outbound(cid, T0)  # a notification: no one is waiting for it
    s.inbound(cid, T0 + timedelta(minutes=10))
    s.outbound(cid, T0 + timedelta(minutes=12))
    s.add(cid, "Resolved", T0 + timedelta(minutes=20), by="api")
    s.add(cid, "Reopened", T0 + timedelta(minutes=30), reason="inbound message")
    s.add(cid, "Resolved", T0 + timedelta(minutes=40), by="api")
    store.apply(Analytics(), s.facts)
    (sms,) = report(store, BRAND, DAY, DAY)
    assert (sms.first_response_p50, sms.first_response_p90) == (120.0, 120.0)
    assert sms.conversations_resolved == 2
    assert (sms.resolution_p50, sms.resolution_p90) == (1200.0, 2400.0)


def test_an_automatic_reply_is_counted_but_starts_no_first_response_time(
    store: SQLiteReadModels,
) -> None:
    s = Story()
    cid = s.open(T0)
    s.outbound(cid, T0, to="claire@example.org", channel="email")
    s.inbound(
        cid,
        T0 + timedelta(minutes=1),
        sender="claire@example.org",
        channel="email",
        automatic=True,
        subject="Absence",
        attachments=[],
    )  # an out-of-office
    s.inbound(cid, T0 + timedelta(minutes=10), sender="claire@example.org", channel="email")
    s.outbound(cid, T0 + timedelta(minutes=15), to="claire@example.org", channel="email")
    store.apply(Analytics(), s.facts)
    (email,) = report(store, BRAND, DAY, DAY)
    assert email.messages_in == 2
    assert (email.first_response_p50, email.first_response_p90) == (300.0, 300.0)


def test_replaying_the_same_facts_changes_nothing(store: SQLiteReadModels) -> None:
    s = Story()
    cid = s.open(T0)
    s.inbound(cid, T0)
    mid = s.outbound(cid, T0 + timedelta(seconds=5), segments=2)
    s.add(cid, "MessageFailed", T0 + timedelta(seconds=9), message_id=mid, reason="absent")
    s.add(cid, "Resolved", T0 + timedelta(minutes=1), by="api")
    assert store.apply(Analytics(), s.facts[:3]) == 1
    once = dump(store)
    assert store.apply(Analytics(), s.facts[:3]) == 0
    assert dump(store) == once
    store.apply(Analytics(), s.facts)  # overlapping batch: the known part is skipped
    store.apply(Analytics(), s.facts)
    (sms,) = report(store, BRAND, DAY, DAY)
    assert (sms.conversations_opened, sms.messages_in, sms.messages_out) == (1, 1, 1)
    assert (sms.sms_segments, sms.failed, sms.failures) == (2, 1, {"absent": 1})
    assert sms.conversations_resolved == 1
    assert (sms.first_response_p50, sms.resolution_p90) == (5.0, 60.0)


def test_rcs_reads_count_on_the_day_read_once_each(store: SQLiteReadModels) -> None:
    s = Story()
    cid = s.open(T0)
    rcs = s.outbound(cid, T0, to=FR, channel="rcs")
    sms = s.outbound(cid, T0 + timedelta(seconds=1), to=FR)
    s.add(cid, "MessageDelivered", T0 + timedelta(seconds=2), message_id=rcs)
    s.add(cid, "MessageRead", T0 + timedelta(days=1), message_id=rcs)  # opened the next day
    s.add(cid, "MessageDelivered", T0 + timedelta(seconds=3), message_id=sms)
    store.apply(Analytics(), s.facts)
    store.apply(Analytics(), s.facts)  # a replay counts nothing twice
    first_day = {r.channel: r for r in report(store, BRAND, DAY, DAY)}
    (next_day,) = report(store, BRAND, DAY + timedelta(days=1), DAY + timedelta(days=1))
    assert (first_day["rcs"].delivered, first_day["rcs"].read) == (1, 0)
    assert (first_day["sms"].delivered, first_day["sms"].read) == (1, 0)
    assert (next_day.channel, next_day.read, next_day.delivered) == ("rcs", 1, 0)


def test_a_conversation_takes_the_channel_of_its_first_message(store: SQLiteReadModels) -> None:
    s = Story()
    cid = s.open(T0)
    s.inbound(cid, T0, sender="lea@example.com", channel="email")
    s.outbound(cid, T0 + timedelta(seconds=30), to=FR)  # answered by SMS
    store.apply(Analytics(), s.facts)
    email, sms = report(store, BRAND, DAY, DAY)
    assert (email.channel, email.conversations_opened, email.first_response_p50) == (
        "email",
        1,
        30.0,
    )
    assert (sms.channel, sms.conversations_opened, sms.messages_out) == ("sms", 0, 1)


def test_days_are_utc_days(store: SQLiteReadModels) -> None:
    s = Story()
    paris = timezone(timedelta(hours=2))
    late = datetime(2025, 3, 15, 1, 30, tzinfo=paris)  # still the 14th in UTC
    cid = s.open(late)
    s.inbound(cid, late)
    s.outbound(cid, late + timedelta(hours=1))  # the 15th in UTC
    store.apply(Analytics(), s.facts)
    days = report(store, BRAND, DAY, DAY + timedelta(days=1))
    assert [(d.day, d.messages_in, d.messages_out) for d in days] == [
        (DAY, 1, 0),
        (DAY + timedelta(days=1), 0, 1),
    ]
    assert days[1].first_response_p50 == 3600.0
