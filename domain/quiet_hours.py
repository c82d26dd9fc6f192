"""When marketing may reach a phone: quiet hours by the recipient's own clock.

A policy is dated and versioned per country, with its source, so that a brand can show
which rule held on the day of a send. Defaults, checked 2026-12-02:

- **France** (and its overseas departments, each by its own clock): 08:00-20:00, Monday to
  Saturday, never on Sundays or public holidays — the SMS marketing hours of the French
  mobile industry's code of conduct (AF2M / Fédération Française des Télécoms,
  "Recommandations SMS+ / MMS+", commercial messages) and the CNIL's guidance on
  prospection by SMS.
- **United States**: 08:00-21:00 local, every day — the TCPA's time-of-day rule,
  47 CFR 64.1200(c)(1) ("before the hour of 8 a.m. or after 9 p.m. (local time at the
  called party's location)").

A brand may narrow a country's window, never widen it without an explicit override,
which the brand's configuration records. Service and conversational messages are not
held: quiet hours are for marketing only (the caller decides which sends ask).

Where a number maps to several time zones (phonenumbers lists Réunion's and Mayotte's for
the +262 69 mobiles; a US area code across a zone line), the window is the one *all* of
them allow. The number's region narrows phonenumbers' list first when it knows better
(+262 692 is a Réunion number: Indian/Reunion only).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from phonenumbers import timezone as number_zones

from chainon.domain.addresses import read_phone
from chainon.domain.errors import InvalidInput

MONDAY_TO_SATURDAY = frozenset(range(6))
EVERY_DAY = frozenset(range(7))
CHECKED = date(2026, 12, 2)


@dataclass(frozen=True)
class QuietHoursPolicy:
    """The window in which marketing may be delivered, in the recipient's local time."""

    country: str
    version: str
    source: str
    checked: date
    opens: time
    closes: time
    days: frozenset[int]  # weekday(): 0 is Monday
    public_holidays: bool  # closed on the country's (or the territory's) public holidays
    default_zone: str  # when a number's zone is unknown

    def narrowed(
        self,
        *,
        opens: time | None = None,
        closes: time | None = None,
        days: Iterable[int] | None = None,
        override: bool = False,
    ) -> QuietHoursPolicy:
        """A brand's own window. Wider than the country's only with ``override`` (recorded
        by the caller with who asked and why)."""
        chosen = replace(
            self,
            opens=opens or self.opens,
            closes=closes or self.closes,
            days=frozenset(days) if days is not None else self.days,
            version=f"{self.version}+brand",
        )
        if chosen.opens >= chosen.closes:
            raise InvalidInput("must open before it closes", field="quiet_hours")
        if not chosen.days or not chosen.days <= EVERY_DAY:
            raise InvalidInput("days are 0 (Monday) to 6 (Sunday), at least one", field="days")
        wider = chosen.opens < self.opens or chosen.closes > self.closes
        if (wider or not chosen.days <= self.days) and not override:
            raise InvalidInput(
                f"wider than {self.country}'s policy ({self.opens:%H:%M}-{self.closes:%H:%M},"
                f" days {sorted(self.days)}); an explicit override is needed",
                field="quiet_hours",
            )
        return chosen


POLICIES: dict[str, QuietHoursPolicy] = {
    "FR": QuietHoursPolicy(
        country="FR",
        version="fr-2026-12",
        source="AF2M/FFT SMS marketing code of conduct; CNIL guidance on SMS prospection",
        checked=CHECKED,
        opens=time(8),
        closes=time(20),
        days=MONDAY_TO_SATURDAY,
        public_holidays=True,
        default_zone="Europe/Paris",
    ),
    "US": QuietHoursPolicy(
        country="US",
        version="us-2026-12",
        source="TCPA, 47 CFR 64.1200(c)(1)",
        checked=CHECKED,
        opens=time(8),
        closes=time(21),
        days=EVERY_DAY,
        public_holidays=False,
        default_zone="America/New_York",
    ),
}

# French overseas regions as phonenumbers names them → their own zone and the `holidays`
# subdivision whose public holidays they keep (abolition day, etc.).
FRENCH_TERRITORIES: dict[str, tuple[str, str | None]] = {
    "FR": ("Europe/Paris", None),
    "RE": ("Indian/Reunion", "974"),
    "YT": ("Indian/Mayotte", "976"),
    "GP": ("America/Guadeloupe", "971"),
    "MQ": ("America/Martinique", "972"),
    "GF": ("America/Cayenne", "973"),
    "PM": ("America/Miquelon", "PM"),
    "BL": ("America/St_Barthelemy", "BL"),
    "MF": ("America/Marigot", "MF"),
}


@dataclass(frozen=True)
class Recipient:
    """Where a number rings: the policy's country, its zones, its holiday calendar."""

    policy: QuietHoursPolicy
    zones: tuple[str, ...]
    holiday_region: str | None  # the `holidays` subdivision, None for the country's own


def recipient_of(number: str) -> Recipient | None:
    """The quiet-hours view of an E.164 number; None when no policy covers its country
    (the caller decides: a brand without a policy for that country sends as it asks)."""
    phone = read_phone(number, "ZZ")
    parsed = phone.number
    if parsed is None:
        return None
    region = phone.region or ""
    zones = tuple(z for z in number_zones.time_zones_for_number(parsed) if z != "Etc/Unknown")
    if region in FRENCH_TERRITORIES:
        own_zone, subdivision = FRENCH_TERRITORIES[region]
        zones = tuple(z for z in zones if z == own_zone) or (own_zone,)
        return Recipient(POLICIES["FR"], zones, subdivision)
    if region == "US":
        return Recipient(POLICIES["US"], zones or (POLICIES["US"].default_zone,), None)
    return None


def release_time(
    at: datetime, recipient: Recipient, policy: QuietHoursPolicy | None = None
) -> datetime:
    """The first instant at or after ``at`` (aware) when every zone of the recipient is
    inside the window: ``at`` itself when it is allowed now."""
    chosen = policy or recipient.policy
    candidate = at
    for _ in range(64):  # each round moves to a later opening; a week of holidays at most
        latest = max(
            _next_open(candidate, ZoneInfo(zone), chosen, recipient.holiday_region)
            for zone in recipient.zones
        )
        if latest == candidate:
            return candidate
        candidate = latest
    raise InvalidInput("no time allowed by every zone of the number", field="to")


def _next_open(
    at: datetime, zone: ZoneInfo, policy: QuietHoursPolicy, region: str | None
) -> datetime:
    local = at.astimezone(zone)
    day = local.date()
    for _ in range(32):
        if _open_on(day, policy, region):
            opens = datetime.combine(day, policy.opens, zone)
            closes = datetime.combine(day, policy.closes, zone)
            if local < opens:
                return opens.astimezone(at.tzinfo)
            if local < closes:
                return at
        day += timedelta(days=1)
        local = datetime.combine(day, time(0), zone)
    raise InvalidInput("no opening in the next month", field="quiet_hours")


def _open_on(day: date, policy: QuietHoursPolicy, region: str | None) -> bool:
    if day.weekday() not in policy.days:
        return False
    return not (policy.public_holidays and day in _calendar(policy.country, region, day.year))


@functools.cache
def _calendar(country: str, region: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=region, years=year))
