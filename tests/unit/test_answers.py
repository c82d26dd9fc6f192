"""Reading a consumer's words as yes or no (French and English), a number in a range, a
day or a day and time in the flow's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain import answers
from chainon.domain.flow_answers import (
    DateAnswer,
    DateTimeAnswer,
    NumberAnswer,
    Reply,
    Unreadable,
    YesNoAnswer,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # a Thursday, 10:00 in Paris
YES = ["oui", "Oui", "OUI !", "ouais", "yes", "Yes.", "y", "ok", "d'accord", "bien sûr", "yep"]
NO = ["non", "Non.", "NON !", "nan", "no", "No", "nope", "non merci", "pas du tout", "n"]
DRESSINGS = st.sampled_from(["{}", " {} ", "{}!", "{} !", "{}.", "«{}»", "{} 🙂", "\n{}\n"])
CASINGS = st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase])


def reply(text: str, now: datetime = NOW) -> Reply:
    return Reply(text=text, now=now, zone=PARIS)


@given(st.sampled_from(YES), DRESSINGS, CASINGS)
def test_every_yes_reads_yes_however_dressed(word: str, dressing: str, casing: object) -> None:
    text = dressing.format(casing(word))  # type: ignore[operator]
    assert answers.yes_no(text) is True
    assert YesNoAnswer().read(reply(text)) == "yes"


@given(st.sampled_from(NO), DRESSINGS, CASINGS)
def test_every_no_reads_no_however_dressed(word: str, dressing: str, casing: object) -> None:
    text = dressing.format(casing(word))  # type: ignore[operator]
    assert answers.yes_no(text) is False
    assert YesNoAnswer().read(reply(text)) == "no"


@given(st.text(max_size=30))
def test_nothing_reads_both_and_anything_else_is_refused(text: str) -> None:
    said = answers.yes_no(text)
    assert said in {True, False, None}
    if said is None:
        with pytest.raises(Unreadable):
            YesNoAnswer().read(reply(text))


@pytest.mark.parametrize("text", ["oui non", "peut-être", "maybe", "", "yes no", "ouiii"])
def test_neither_a_yes_nor_a_no(text: str) -> None:
    assert answers.yes_no(text) is None


@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(-2000, 2000))
def test_a_whole_number_is_accepted_exactly_within_its_range(low: int, high: int, n: int) -> None:
    low, high = min(low, high), max(low, high)
    kind = NumberAnswer(min=Decimal(low), max=Decimal(high))
    if low <= n <= high:
        assert kind.read(reply(f" {n} ")) == str(n)
    else:
        with pytest.raises(Unreadable):
            kind.read(reply(str(n)))


@given(st.integers(0, 999), st.integers(1, 99))
def test_a_decimal_comma_or_point_reads_the_same(whole: int, cents: int) -> None:
    text = f"{whole}.{cents:02d}"
    assert answers.number(text) == answers.number(text.replace(".", ",")) == Decimal(text)
    kind = NumberAnswer(min=Decimal(0), max=Decimal(1000), integer=False)
    assert Decimal(kind.read(reply(text.replace(".", ",")))) == Decimal(text)
    with pytest.raises(Unreadable):
        NumberAnswer(min=Decimal(0), max=Decimal(1000)).read(reply(text))  # not whole


@pytest.mark.parametrize("text", ["trois", "3 4", "1e3", "", "--2", "0x10"])
def test_what_is_not_a_number(text: str) -> None:
    assert answers.number(text) is None


@given(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
def test_a_written_day_reads_back_whichever_format(day: date) -> None:
    today = date(2026, 12, 3)
    for text in (f"{day:%d/%m/%Y}", f"{day:%Y-%m-%d}", f"{day.day}.{day.month}.{day.year}"):
        assert answers.day(text, today) == day
    assert answers.day(f"{day:%m/%d/%Y}", today, month_first=True) == day


@given(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
def test_a_day_without_a_year_is_the_next_one(day: date) -> None:
    today = date(2026, 12, 3)
    found = answers.day(f"{day.day}/{day.month}", today)
    if day.month == 2 and day.day == 29:
        return
    assert found is not None
    assert today <= found < today.replace(year=today.year + 1) + timedelta(days=1)
    assert (found.month, found.day) == (day.month, day.day)


def test_words_for_today_and_tomorrow() -> None:
    today = date(2026, 12, 3)
    assert answers.day("Aujourd'hui", today) == today
    assert answers.day("demain", today) == date(2026, 12, 4)
    assert answers.day("Tomorrow!", today) == date(2026, 12, 4)
    assert answers.day("après-demain", today) == date(2026, 12, 5)
    assert answers.day("31/02/2027", today) is None


@given(st.times().map(lambda t: t.replace(second=0, microsecond=0)))
def test_a_time_reads_back_in_french_and_english_forms(moment: time) -> None:
    assert answers.clock(f"{moment.hour}h{moment.minute:02d}") == moment
    assert answers.clock(f"{moment:%H:%M}") == moment
    twelve = f"{(moment.hour % 12) or 12}:{moment.minute:02d} {'pm' if moment.hour >= 12 else 'am'}"
    assert answers.clock(twelve) == moment


@given(st.datetimes(datetime(2026, 12, 4), datetime(2027, 1, 31)))
def test_a_day_and_time_is_in_the_flows_zone(local: datetime) -> None:
    local = local.replace(second=0, microsecond=0)
    found = DateTimeAnswer(max_days_ahead=90).read(reply(f"{local:%d/%m/%Y} à {local:%Hh%M}"))
    assert datetime.fromisoformat(found) == local.replace(tzinfo=PARIS)


def test_a_moment_in_the_past_or_outside_opening_hours_is_refused() -> None:
    kind = DateTimeAnswer(opens=time(9), closes=time(18))
    assert kind.read(reply("demain à 9h")) == "2026-12-04T09:00:00+01:00"
    assert kind.read(reply("4/12 2:30pm")) == "2026-12-04T14:30:00+01:00"
    for text in ("3/12 9h", "demain à 19h", "demain", "14h30"):
        with pytest.raises(Unreadable):
            kind.read(reply(text))


def test_a_local_time_the_clocks_skip_is_no_moment() -> None:
    spring = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    assert answers.moment("28/03/2027 2h30", spring, PARIS) is None
    assert answers.moment("28/03/2027 3h30", spring, PARIS) is not None


def test_a_day_outside_the_window_is_refused() -> None:
    kind = DateAnswer(min_days_ahead=1, max_days_ahead=7)
    assert kind.read(reply("demain")) == "2026-12-04"
    for text in ("aujourd'hui", "11/12", "01/01/2026"):
        with pytest.raises(Unreadable):
            kind.read(reply(text))
