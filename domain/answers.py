"""How a consumer's words read as a yes, a no, a number, a day or a time.

People answer a bot the way they text a friend: "Oui !", "ouais", "3,5", "14h30",
"demain à 9h", "25/12". Each reader takes such a text and returns the value or None; it
never guesses between two readings, since a wrong date booked is worse than asking again.
Days are written day first (25/12) unless the flow says month first, as in the US.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from chainon.domain.keywords import normalise

YES = frozenset(
    normalise(w)
    for w in (
        "oui", "o", "ouais", "ouai", "ui", "yes", "y", "yeah", "yep", "yup", "ok", "okay",
        "d'accord", "daccord", "bien sûr", "exact", "exactement", "c'est ça", "correct",
        "sure", "of course", "oui merci", "yes please", "absolument", "absolutely", "tout à fait",
    )
)  # fmt: skip
NO = frozenset(
    normalise(w)
    for w in (
        "non", "n", "nan", "no", "nope", "nah", "non merci", "no thanks", "no thank you",
        "pas du tout", "not at all", "négatif", "negative", "jamais", "never",
    )
)  # fmt: skip

_NUMBER = re.compile(r"\s*([+-]?)\s*([0-9]{1,12})(?:[.,]([0-9]{1,6}))?\s*")
_TODAY = {"aujourd hui", "aujourdhui", "today", "ce jour"}
_TOMORROW = {"demain", "tomorrow"}
_AFTER_TOMORROW = {"apres demain", "day after tomorrow"}
_NUMERIC_DAY = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})(?:[/.-]([0-9]{2}|[0-9]{4}))?")
_ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_CLOCK = re.compile(r"([0-9]{1,2})\s*(?:h|:)\s*([0-9]{2})?")
_TWELVE_HOUR = re.compile(r"([0-9]{1,2})(?:\s*[:h.]\s*([0-9]{2}))?\s*([ap])\.?\s*m\.?")
_JOINERS = re.compile(r"\s+(?:a|à|at|vers|,)\s+|\s*,\s*|\s+")


def yes_no(text: str) -> bool | None:
    """True for a yes, False for a no, in French or English; None for anything else."""
    words = normalise(text)
    if words in YES:
        return True
    if words in NO:
        return False
    return None


def number(text: str) -> Decimal | None:
    """A plain number, with a point or a French decimal comma: "3", "-2", "3,5"."""
    found = _NUMBER.fullmatch(text)
    if found is None:
        return None
    sign, whole, fraction = found.groups()
    try:
        value = Decimal(f"{sign}{whole}.{fraction or '0'}")
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return None
    return value.normalize() if value != 0 else Decimal(0)


def number_text(value: Decimal) -> str:
    """A number as the flow stores it: "3", "3.5", never "3.50" or "3E+1"."""
    plain = format(value.normalize(), "f")
    return "0" if plain in {"-0", "0"} else plain


def day(text: str, today: date, *, month_first: bool = False) -> date | None:
    """A calendar day: "25/12", "25/12/2026", "2026-12-25", "demain", "today". A day
    without a year is the next one on or after ``today``."""
    words = normalise(text)
    if words in _TODAY:
        return today
    if words in _TOMORROW:
        return today + timedelta(days=1)
    if words in _AFTER_TOMORROW:
        return today + timedelta(days=2)
    plain = text.strip()
    iso = _ISO_DAY.fullmatch(plain)
    if iso is not None:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]))
    numeric = _NUMERIC_DAY.fullmatch(plain)
    if numeric is None:
        return None
    first, second = int(numeric[1]), int(numeric[2])
    day_of_month, month = (second, first) if month_first else (first, second)
    if numeric[3] is not None:
        year = int(numeric[3]) + (2000 if len(numeric[3]) == 2 else 0)
        return _date(year, month, day_of_month)
    this_year = _date(today.year, month, day_of_month)
    if this_year is not None and this_year >= today:
        return this_year
    return _date(today.year + 1, month, day_of_month)


def clock(text: str) -> time | None:
    """A time of day: "14h", "14h30", "14:30", "9am", "2:30 pm"."""
    plain = text.strip().casefold()
    twelve = _TWELVE_HOUR.fullmatch(plain)
    if twelve is not None:
        hour, minute = int(twelve[1]), int(twelve[2] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return None
        return time(hour % 12 + (12 if twelve[3] == "p" else 0), minute)
    found = _CLOCK.fullmatch(plain)
    if found is None:
        return None
    hour, minute = int(found[1]), int(found[2] or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def moment(
    text: str, now: datetime, zone: ZoneInfo, *, month_first: bool = False
) -> datetime | None:
    """A day and a time in ``zone`` ("25/12 14h30", "demain à 9h", "2026-12-25 14:30"); a
    local time the clocks skip (a spring-forward gap) is no moment at all."""
    today = now.astimezone(zone).date()
    parts = [p for p in _JOINERS.split(text.strip()) if p]
    for cut in range(1, len(parts)):
        found_day = day(" ".join(parts[:cut]), today, month_first=month_first)
        found_time = clock(" ".join(parts[cut:]))
        if found_day is not None and found_time is not None:
            return _local(datetime.combine(found_day, found_time), zone)
    return None


def _local(naive: datetime, zone: ZoneInfo) -> datetime | None:
    aware = naive.replace(tzinfo=zone)
    back = aware.astimezone(ZoneInfo("UTC")).astimezone(zone)
    return aware if back.replace(tzinfo=None) == naive else None


def _date(year: int, month: int, day_of_month: int) -> date | None:
    try:
        return date(year, month, day_of_month)
    except ValueError:
        return None
