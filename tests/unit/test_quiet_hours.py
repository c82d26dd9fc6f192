"""Quiet hours by the recipient's clock: weekends, public holidays, overseas, several zones."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.errors import InvalidInput
from chainon.domain.quiet_hours import POLICIES, Recipient, recipient_of, release_time

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
REUNION = ZoneInfo("Indian/Reunion")
FRENCH_MOBILE = "+33612345678"


def release(number: str, local: datetime) -> datetime:
    recipient = recipient_of(number)
    assert recipient is not None
    return release_time(local.astimezone(UTC), recipient)


def test_a_saturday_evening_in_paris_waits_for_monday_morning() -> None:
    saturday = datetime(2026, 12, 5, 21, 0, tzinfo=PARIS)
    assert saturday.weekday() == 5
    assert release(FRENCH_MOBILE, saturday) == datetime(2026, 12, 7, 8, 0, tzinfo=PARIS)


def test_a_monday_that_is_a_public_holiday_waits_for_tuesday() -> None:
    saturday = datetime(2027, 3, 27, 21, 0, tzinfo=PARIS)  # Easter Monday is 29 March 2027
    assert release(FRENCH_MOBILE, saturday) == datetime(2027, 3, 30, 8, 0, tzinfo=PARIS)


def test_an_allowed_moment_is_released_at_once() -> None:
    tuesday = datetime(2026, 12, 8, 14, 30, tzinfo=PARIS)
    assert release(FRENCH_MOBILE, tuesday) == tuesday


def test_seven_in_the_morning_in_new_york_waits_for_eight() -> None:
    early = datetime(2026, 12, 6, 7, 0, tzinfo=NEW_YORK)  # a Sunday: allowed in the US
    assert release("+12125550123", early) == datetime(2026, 12, 6, 8, 0, tzinfo=NEW_YORK)
    late = datetime(2026, 12, 6, 21, 0, tzinfo=NEW_YORK)
    assert release("+12125550123", late) == datetime(2026, 12, 7, 8, 0, tzinfo=NEW_YORK)


def test_a_reunion_number_goes_by_reunion_clock_and_holidays() -> None:
    recipient = recipient_of("+262692123456")  # phonenumbers also lists Mayotte's zone
    assert recipient is not None
    assert recipient.zones == ("Indian/Reunion",)
    early = datetime(2026, 12, 8, 7, 0, tzinfo=REUNION)  # 04:00 in Paris
    assert release("+262692123456", early) == datetime(2026, 12, 8, 8, 0, tzinfo=REUNION)
    # 20 December, the abolition of slavery, is a public holiday in Réunion, not in Paris.
    saturday = datetime(2027, 12, 18, 21, 0, tzinfo=REUNION)
    assert release("+262692123456", saturday) == datetime(2027, 12, 21, 8, 0, tzinfo=REUNION)
    in_paris = datetime(2027, 12, 18, 21, 0, tzinfo=PARIS)
    assert release(FRENCH_MOBILE, in_paris) == datetime(2027, 12, 20, 8, 0, tzinfo=PARIS)


def test_a_number_in_two_zones_gets_the_window_both_allow() -> None:
    both = Recipient(POLICIES["FR"], ("Europe/Paris", "America/New_York"), None)
    monday = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 Paris, 03:00 New York
    assert release_time(monday, both) == datetime(2026, 12, 7, 8, 0, tzinfo=NEW_YORK)


def test_a_number_outside_every_policy_has_none() -> None:
    assert recipient_of("+447700900123") is None


def test_a_brand_narrows_the_window_and_cannot_widen_it_without_an_override() -> None:
    france = POLICIES["FR"]
    narrow = france.narrowed(opens=time(9), closes=time(19))
    assert narrow.version == "fr-2026-12+brand"
    with pytest.raises(InvalidInput) as refused:
        france.narrowed(closes=time(22))
    assert refused.value.field == "quiet_hours"
    with pytest.raises(InvalidInput):
        france.narrowed(days=range(7))  # Sundays
    assert france.narrowed(closes=time(22), override=True).closes == time(22)
    tuesday_evening = datetime(2026, 12, 8, 19, 30, tzinfo=PARIS).astimezone(UTC)
    recipient = recipient_of(FRENCH_MOBILE)
    assert recipient is not None
    released = release_time(tuesday_evening, recipient, narrow)
    assert released == datetime(2026, 12, 9, 9, 0, tzinfo=PARIS)


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(moments, st.sampled_from([FRENCH_MOBILE, "+12125550123", "+13105550123", "+262692123456"]))
def test_a_release_is_never_earlier_and_always_inside_the_window(at: datetime, number: str) -> None:
    recipient = recipient_of(number)
    assert recipient is not None
    released = release_time(at, recipient)
    assert released >= at
    assert release_time(released, recipient) == released  # a fixed point: allowed there
    for zone in recipient.zones:
        local = released.astimezone(ZoneInfo(zone))
        policy = recipient.policy
        assert policy.opens <= local.time() < policy.closes
        assert local.weekday() in policy.days
