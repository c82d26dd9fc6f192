"""Fallbacks in the analytics read model: counted once each, by reason, on the RCS side."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from chainon.projections.analytics import Analytics, report
from chainon.projections.sqlite import SQLiteReadModels
from tests.integration.test_analytics import BRAND, DAY, OTHER_BRAND, T0, US, Story


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteReadModels]:
    store = SQLiteReadModels(tmp_path / "v.sqlite3")
    store.create(Analytics())
    yield store
    store.close()


def fall_back(s: Story, cid: str, mid: str | None, reason: str, minutes: int) -> str:
    """The switch, then its replacement queued on SMS in the same transaction."""
    replacement = str(uuid4())
    at = T0 + timedelta(minutes=minutes)
    s.add(
        cid,
        "FallbackTriggered",
        at,
        message_id=mid,
        reason=reason,
        channel="sms",
        replacement_id=replacement,
    )
    return s.outbound(cid, at)


def test_fallbacks_count_by_reason_on_the_channel_they_fall_back_from(
    store: SQLiteReadModels,
) -> None:
    s = Story()
    late = s.open(T0)
    m1 = s.outbound(late, T0, channel="rcs")
    s.add(late, "RevocationRequested", T0 + timedelta(minutes=10), message_id=m1)
    s.add(late, "MessageRevoked", T0 + timedelta(minutes=10), message_id=m1)
    fall_back(s, late, m1, "deadline", 10)
    failed = s.open(T0)
    m2 = s.outbound(failed, T0, to=US, channel="rcs")
    s.add(failed, "MessageFailed", T0 + timedelta(minutes=1), message_id=m2, reason="rejected")
    fall_back(s, failed, m2, "failed", 1)
    # Known not to take RCS: no RCS message at all, the switch comes before any message.
    never = s.open(T0)
    fall_back(s, never, None, "not_capable", 2)
    tomorrow = s.open(T0)
    m3 = s.outbound(tomorrow, T0, channel="rcs")
    fall_back(s, tomorrow, m3, "deadline", 24 * 60)
    store.apply(Analytics(), s.facts)

    assert report(store, OTHER_BRAND, DAY, DAY) == []
    days = {(d.day, d.channel): d for d in report(store, BRAND, DAY, DAY + timedelta(days=1))}
    rcs, sms = days[(DAY, "rcs")], days[(DAY, "sms")]
    assert rcs.fallbacks == 3
    assert rcs.fallbacks_by_reason == {"deadline": 1, "failed": 1, "not_capable": 1}
    assert rcs.failures == {"rejected": 1}  # the failure itself is still a failure
    assert (sms.fallbacks, sms.fallbacks_by_reason, sms.messages_out) == (0, {}, 3)
    next_day = days[(DAY + timedelta(days=1), "rcs")]
    assert (next_day.fallbacks, next_day.fallbacks_by_reason) == (1, {"deadline": 1})


def test_a_batch_delivered_again_counts_its_fallback_once(store: SQLiteReadModels) -> None:
    s = Story()
    cid = s.open(T0)
    mid = s.outbound(cid, T0, channel="rcs")
    fall_back(s, cid, mid, "deadline", 10)
    store.apply(Analytics(), s.facts)
    store.apply(Analytics(), s.facts[-2:])  # the last batch again, as after a crash
    rcs, _sms = report(store, BRAND, DAY, DAY)
    assert (rcs.fallbacks, rcs.fallbacks_by_reason) == (1, {"deadline": 1})
