"""Analytics: per brand, per UTC day, per channel (and per country, which SMS prices follow).

Counters are summed as facts arrive, so a report reads a few rows a day; durations keep
one row each, so p50/p90 are exact, not estimated. ``apply`` reads nothing but the facts
(no clock, no settings): a rebuild gives the same rows. Prices change, so cost is worked
out when a report is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from chainon.domain.addresses import parse_phone, region_of
from chainon.domain.errors import InvalidInput
from chainon.projections import analytics_campaigns
from chainon.projections.analytics_campaigns import CampaignReport, campaign_rows
from chainon.projections.projection import Fact, Lookup, Projection, Table, Tx, one
from chainon.projections.read_model_store import ReadModelStore

COUNTERS = (
    "conversations_opened",
    "conversations_resolved",
    "messages_in",
    "messages_out",
    "sms_segments",
    "delivered",
    "failed",
    "expired",
    "fallbacks",  # on the channel fallen back from; by reason in analytics_fallbacks
    "csat_sum",  # filled once CSAT ratings are recorded
    "csat_count",
)
_KEY = "brand_id TEXT NOT NULL, day TEXT NOT NULL, channel TEXT NOT NULL"
_OUTCOMES = {
    "Conversation.MessageDelivered": "delivered",
    "Conversation.MessageFailed": "failed",
    "Conversation.MessageExpired": "expired",
    "Conversation.ReceiptOverdue": "expired",  # no receipt came by the deadline
}

# Only RCS plans a fallback, and FallbackTriggered names only the channel it falls back
# to: a fallback decided before any RCS message existed (not capable) counts here.
_FALLS_BACK_FROM = "rcs"
_OWN_FACTS = frozenset(
    {
        "Conversation.Opened",
        "Conversation.MessageReceived",
        "Conversation.MessageQueued",
        "Conversation.Resolved",
        "Conversation.FallbackTriggered",
        "Conversation.MessageRead",
        *_OUTCOMES,
    }
)

# Price of one billable unit (an SMS segment; a message on other channels), by (channel,
# country); (channel, "") prices any country not listed. One currency for every price.
CURRENCY = "EUR"
DEFAULT_PRICES: Mapping[tuple[str, str], Decimal] = {
    ("sms", "FR"): Decimal("0.045"),
    ("sms", "US"): Decimal("0.0079"),
    ("email", ""): Decimal("0"),
}


def unit_price(
    channel: str, country: str, prices: Mapping[tuple[str, str], Decimal] = DEFAULT_PRICES
) -> Decimal | None:
    """One billable unit's price on ``channel`` to ``country`` ('' for none); None unpriced."""
    return prices.get((channel, country), prices.get((channel, "")))


def billable_units(channel: str, segments: int) -> int:
    """An SMS is billed by the segment; a message on other channels counts once."""
    return segments if channel == "sms" else 1


class Analytics(Projection):
    name = "analytics"
    tables = (
        Table(
            "analytics_daily",
            f"{_KEY}, country TEXT NOT NULL, "
            + ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COUNTERS)
            + ", PRIMARY KEY (brand_id, day, channel, country)",
        ),
        Table(
            "analytics_failures",
            f"{_KEY}, reason TEXT NOT NULL, count BIGINT NOT NULL, "
            "PRIMARY KEY (brand_id, day, channel, reason)",
        ),
        Table(
            "analytics_durations",
            f"{_KEY}, kind TEXT NOT NULL, conversation_id TEXT NOT NULL, "
            "version BIGINT NOT NULL, seconds DOUBLE PRECISION NOT NULL, "
            "PRIMARY KEY (conversation_id, version)",
            indexes=("brand_id, day",),
        ),
        # Its own table, not columns of analytics_daily: a database made before fallbacks
        # existed gets it from CREATE TABLE IF NOT EXISTS, with no migration.
        Table(
            "analytics_fallbacks",
            f"{_KEY}, reason TEXT NOT NULL, count BIGINT NOT NULL, "
            "PRIMARY KEY (brand_id, day, channel, reason)",
        ),
        # RCS messages opened (read receipts), by the day read; its own table for the
        # same reason as the fallbacks'.
        Table(
            "analytics_reads",
            f"{_KEY}, count BIGINT NOT NULL, PRIMARY KEY (brand_id, day, channel)",
        ),
        # Messages out by purpose (conversational, service, marketing); its own table for
        # the same reason.
        Table(
            "analytics_purposes",
            f"{_KEY}, purpose TEXT NOT NULL, count BIGINT NOT NULL, "
            "PRIMARY KEY (brand_id, day, channel, purpose)",
        ),
        # Lookups: status facts name only a message; a conversation's channel is the one
        # of its first message, known only once that message comes.
        Table(
            "analytics_conversations",
            "conversation_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL, opened_at TEXT NOT NULL, "
            "channel TEXT, country TEXT, first_inbound_at TEXT, first_response_at TEXT",
        ),
        Table(
            "analytics_messages",
            "message_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL, channel TEXT NOT NULL, "
            "country TEXT NOT NULL, segments INTEGER NOT NULL",
        ),
        *analytics_campaigns.TABLES,  # per campaign (projections/analytics_campaigns.py)
    )
    facts = _OWN_FACTS | analytics_campaigns.FACTS
    lookups = (
        Lookup("analytics_conversations", "conversation_id", "*"),
        *analytics_campaigns.LOOKUPS,
    )

    def apply(self, tx: Tx, fact: Fact) -> None:
        d, at, cid = fact.data, utc(fact.timestamp), fact.aggregate_id
        if fact.type == "Conversation.Opened":
            tx.execute(
                "INSERT INTO {analytics_conversations} (conversation_id, brand_id, opened_at) "
                "VALUES (%(id)s, %(brand)s, %(at)s) ON CONFLICT (conversation_id) DO NOTHING",
                {"id": cid, "brand": d["brand_id"], "at": at.isoformat()},
            )
            tx.inserted("analytics_conversations", cid, _opened(cid, d["brand_id"], at))
            return
        conv = tx.lookup("analytics_conversations", cid)
        if conv is None:
            return  # never happens in order; ignoring beats failing the whole batch
        brand, day = conv["brand_id"], at.date().isoformat()
        if fact.type in analytics_campaigns.FACTS:
            recipient = fact.data.get("recipient")
            country = country_of(recipient) if isinstance(recipient, str) else ""
            analytics_campaigns.apply(tx, fact, brand, day, country)
            if fact.type not in _OWN_FACTS:
                return
        if fact.type in _OUTCOMES:
            self._outcome(tx, fact, day)
        elif fact.type == "Conversation.MessageRead":
            self._read(tx, fact, day)
        elif fact.type == "Conversation.FallbackTriggered":
            self._fallback(tx, fact, conv, day)
        elif fact.type == "Conversation.Resolved":
            channel, country = conv["channel"] or "", conv["country"] or ""
            _bump(tx, brand, day, channel, country, conversations_resolved=1)
            opened = datetime.fromisoformat(conv["opened_at"])
            _duration(tx, fact, brand, day, channel, "resolution", at - opened)
        else:
            self._message(tx, fact, conv, at)

    def _message(self, tx: Tx, fact: Fact, conv: dict[str, Any], at: datetime) -> None:
        d, brand, day = fact.data, conv["brand_id"], at.date().isoformat()
        inbound = fact.type == "Conversation.MessageReceived"
        channel = d["channel"]
        country = country_of(d["sender"] if inbound else d["recipient"])
        changes: dict[str, str] = {}
        if conv["channel"] is None:  # its first message: now the conversation has a channel
            changes.update(channel=channel, country=country)
            opened_day = datetime.fromisoformat(conv["opened_at"]).date().isoformat()
            _bump(tx, brand, opened_day, channel, country, conversations_opened=1)
        if inbound:
            _bump(tx, brand, day, channel, country, messages_in=1)
            # An auto-reply asks for no answer: the first-response time starts with a person.
            if conv["first_inbound_at"] is None and not d.get("automatic", False):
                changes["first_inbound_at"] = at.isoformat()
        else:
            segments = int(d["segments"])
            sms = segments if channel == "sms" else 0
            _bump(tx, brand, day, channel, country, messages_out=1, sms_segments=sms)
            purpose = d.get("purpose", "service")  # a v3 record on the events topic had none
            _count(tx, "analytics_purposes", "purpose", brand, day, channel, purpose)
            tx.execute(
                "INSERT INTO {analytics_messages} (message_id, brand_id, channel, country, "
                "segments) VALUES (%(m)s, %(b)s, %(ch)s, %(co)s, %(s)s) "
                "ON CONFLICT (message_id) DO NOTHING",
                {"m": d["message_id"], "b": brand, "ch": channel, "co": country, "s": segments},
            )
            if conv["first_inbound_at"] is not None and conv["first_response_at"] is None:
                changes["first_response_at"] = at.isoformat()
                waited = at - datetime.fromisoformat(conv["first_inbound_at"])
                own = conv["channel"] or channel
                _duration(tx, fact, brand, day, own, "first_response", waited)
        if changes:
            sets = ", ".join(f"{c} = %({c})s" for c in changes)
            tx.execute(
                f"UPDATE {{analytics_conversations}} SET {sets} WHERE conversation_id = %(id)s",
                {**changes, "id": fact.aggregate_id},
            )
            tx.forget("analytics_conversations", fact.aggregate_id)

    def _outcome(self, tx: Tx, fact: Fact, day: str) -> None:
        sql = "SELECT * FROM {analytics_messages} WHERE message_id = %(m)s"
        message = one(tx.rows(sql, {"m": fact.data["message_id"]}))
        if message is None:
            return
        brand, channel = message["brand_id"], message["channel"]
        _bump(tx, brand, day, channel, message["country"], **{_OUTCOMES[fact.type]: 1})
        if fact.type == "Conversation.MessageFailed":
            key = {"brand_id": brand, "day": day, "channel": channel}
            tx.add("analytics_failures", {**key, "reason": fact.data["reason"]}, {"count": 1})

    def _read(self, tx: Tx, fact: Fact, day: str) -> None:
        sql = "SELECT brand_id, channel FROM {analytics_messages} WHERE message_id = %(m)s"
        message = one(tx.rows(sql, {"m": fact.data["message_id"]}))
        if message is None:
            return
        key = {"brand_id": message["brand_id"], "day": day, "channel": message["channel"]}
        tx.add("analytics_reads", key, {"count": 1})

    def _fallback(self, tx: Tx, fact: Fact, conv: dict[str, Any], day: str) -> None:
        """Counted on the RCS message's row when there was one; a send to a contact
        already known not to take RCS never made one, so the conversation's country (if
        it has one yet) is the best there is."""
        message_id = fact.data["message_id"]
        sql = "SELECT * FROM {analytics_messages} WHERE message_id = %(m)s"
        message = one(tx.rows(sql, {"m": message_id})) if message_id is not None else None
        brand = conv["brand_id"]
        channel = message["channel"] if message is not None else _FALLS_BACK_FROM
        country = message["country"] if message is not None else conv["country"] or ""
        _bump(tx, brand, day, channel, country, fallbacks=1)
        key = {"brand_id": brand, "day": day, "channel": channel, "reason": fact.data["reason"]}
        tx.add("analytics_fallbacks", key, {"count": 1})


def _count(tx: Tx, table: str, column: str, brand: str, day: str, channel: str, value: str) -> None:
    tx.add(table, {"brand_id": brand, "day": day, "channel": channel, column: value}, {"count": 1})


def _bump(tx: Tx, brand: str, day: str, channel: str, country: str, **counts: int) -> None:
    key = {"brand_id": brand, "day": day, "channel": channel, "country": country}
    tx.add("analytics_daily", key, counts)


def _duration(
    tx: Tx, fact: Fact, brand: str, day: str, channel: str, kind: str, took: timedelta
) -> None:
    row = {"b": brand, "d": day, "ch": channel, "k": kind, "c": fact.aggregate_id}
    tx.execute(
        "INSERT INTO {analytics_durations} (brand_id, day, channel, kind, conversation_id, "
        "version, seconds) VALUES (%(b)s, %(d)s, %(ch)s, %(k)s, %(c)s, %(v)s, %(s)s) "
        "ON CONFLICT (conversation_id, version) DO NOTHING",
        {**row, "v": fact.aggregate_version, "s": took.total_seconds()},
    )


def utc(moment: datetime) -> datetime:
    """Days are UTC days; a naive time is taken as UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@lru_cache(maxsize=100_000)
def country_of(address: str) -> str:
    """The ISO country of an E.164 number; '' for email or an RCS agent id (keys hold no NULL).

    Cached: parsing a number is most of a rebuild's time, and a contact's number repeats."""
    if not address.startswith("+"):
        return ""
    try:
        return region_of(parse_phone(address)) or ""
    except InvalidInput:
        return ""


def percentile(values: Sequence[float], p: int) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))  # ceil(p/100 × n), in integers
    return ordered[rank - 1]


@dataclass
class DayReport:
    day: date
    channel: str
    conversations_opened: int = 0
    conversations_resolved: int = 0
    messages_in: int = 0
    messages_out: int = 0
    sms_segments: int = 0
    cost: Decimal = Decimal(0)
    unpriced_units: int = 0  # billable units with no price: the cost leaves them out
    delivered: int = 0
    failed: int = 0
    expired: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # by reason
    read: int = 0  # RCS messages opened that day (read receipts)
    fallbacks: int = 0
    fallbacks_by_reason: dict[str, int] = field(default_factory=dict)  # not_capable, …
    messages_out_by_purpose: dict[str, int] = field(default_factory=dict)  # marketing, …
    first_response_p50: float | None = None  # seconds
    first_response_p90: float | None = None
    resolution_p50: float | None = None
    resolution_p90: float | None = None
    csat_sum: int = 0
    csat_count: int = 0

    @property
    def delivery_rate(self) -> float | None:
        outcomes = self.delivered + self.failed + self.expired
        return self.delivered / outcomes if outcomes else None

    @property
    def csat_average(self) -> float | None:
        return self.csat_sum / self.csat_count if self.csat_count else None


def report(
    store: ReadModelStore,
    brand_id: UUID | str,
    start: date,
    end: date,
    prices: Mapping[tuple[str, str], Decimal] = DEFAULT_PRICES,
    channel: str | None = None,
) -> list[DayReport]:
    """A brand's days from ``start`` to ``end`` (both included) by day and channel; only
    days and channels with activity appear. Cost: units × the price of (channel, country),
    else of (channel, ""), where a unit is an SMS segment or a message on other channels."""
    projection = Analytics()
    where = "brand_id = %(brand)s AND day >= %(start)s AND day <= %(end)s"
    params: dict[str, Any] = {"brand": str(brand_id), "start": str(start), "end": str(end)}
    if channel is not None:
        where += " AND channel = %(channel)s"
        params["channel"] = channel
    days: dict[tuple[str, str], DayReport] = {}

    def day_of(row: dict[str, Any]) -> DayReport:
        key = (row["day"], row["channel"])
        if key not in days:
            days[key] = DayReport(date.fromisoformat(row["day"]), row["channel"])
        return days[key]

    for row in store.query(projection, f"SELECT * FROM {{analytics_daily}} WHERE {where}", params):
        out = day_of(row)
        for counter in COUNTERS:
            setattr(out, counter, getattr(out, counter) + int(row[counter]))
        units = int(row["sms_segments"] if row["channel"] == "sms" else row["messages_out"])
        price = unit_price(row["channel"], row["country"], prices)
        if price is None:
            out.unpriced_units += units
        else:
            out.cost += price * units
    sql = f"SELECT * FROM {{analytics_failures}} WHERE {where}"
    for row in store.query(projection, sql, params):
        day_of(row).failures[row["reason"]] = int(row["count"])
    sql = f"SELECT * FROM {{analytics_fallbacks}} WHERE {where}"
    for row in store.query(projection, sql, params):
        day_of(row).fallbacks_by_reason[row["reason"]] = int(row["count"])
    sql = f"SELECT * FROM {{analytics_purposes}} WHERE {where}"
    for row in store.query(projection, sql, params):
        day_of(row).messages_out_by_purpose[row["purpose"]] = int(row["count"])
    sql = f"SELECT * FROM {{analytics_reads}} WHERE {where}"
    for row in store.query(projection, sql, params):
        day_of(row).read += int(row["count"])
    durations: dict[tuple[str, str, str], list[float]] = {}
    sql = f"SELECT day, channel, kind, seconds FROM {{analytics_durations}} WHERE {where}"
    for row in store.query(projection, sql, params):
        day_of(row)
        durations.setdefault((row["day"], row["channel"], row["kind"]), []).append(row["seconds"])
    for (day, chan), out in days.items():
        for kind in ("first_response", "resolution"):
            values = durations.get((day, chan, kind), [])
            setattr(out, f"{kind}_p50", percentile(values, 50))
            setattr(out, f"{kind}_p90", percentile(values, 90))
    return [days[key] for key in sorted(days)]


def campaigns(
    store: ReadModelStore,
    brand_id: UUID | str,
    start: date,
    end: date,
    prices: Mapping[tuple[str, str], Decimal] = DEFAULT_PRICES,
    channel: str | None = None,
) -> list[CampaignReport]:
    """The brand's campaigns with activity from ``start`` to ``end`` (both included), each
    summed over those days: over every day, a campaign's progress as its API shows it."""
    where = "brand_id = %(brand)s AND day >= %(start)s AND day <= %(end)s"
    params: dict[str, Any] = {"brand": str(brand_id), "start": str(start), "end": str(end)}
    if channel is not None:
        where += " AND channel = %(channel)s"
        params["channel"] = channel
    sql = f"SELECT * FROM {{analytics_campaigns}} WHERE {where}"
    return campaign_rows(store.query(Analytics(), sql, params), prices)


def _opened(conversation: str, brand: str, at: datetime) -> dict[str, Any]:
    """A conversation's row as ``Conversation.Opened`` inserts it and a lookup reads it."""
    row: dict[str, Any] = {"conversation_id": conversation, "brand_id": brand}
    row["opened_at"] = at.isoformat()
    return row | dict.fromkeys(("channel", "country", "first_inbound_at", "first_response_at"))
