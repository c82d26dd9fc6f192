"""The analytics' campaign figures: per brand, UTC day and campaign, what its messages became
(queued, sent, delivered, failed), the replies and opt-outs in their conversations,
segments and billable units by channel and country (the cost, priced when asked).

Part of the ``analytics`` projection, so a report shows campaigns beside the days they
happened on and a rebuild recounts them with the rest. A message counts where
``campaign_stats`` counts it (the same moves: delivered or failed only from queued or
sent), so that a campaign's days summed give ``GET /v1/campaigns/{id}``'s progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from chainon.projections import campaign_moves
from chainon.projections.campaign_moves import Answered, Held, Moved
from chainon.projections.projection import Fact, Lookup, Table, Tx, one

COUNTERS = ("queued", "sent", "delivered", "failed", "replies", "opt_outs", "segments", "units")
_KEY = "brand_id TEXT NOT NULL, day TEXT NOT NULL, campaign_id TEXT NOT NULL"
TABLES = (
    Table(
        "analytics_campaigns",
        f"{_KEY}, channel TEXT NOT NULL, country TEXT NOT NULL, "
        + ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COUNTERS)
        + ", PRIMARY KEY (brand_id, day, campaign_id, channel, country)",
    ),
    # Lookups: a status fact names only its message; a reply only its conversation.
    Table(
        "analytics_campaign_messages",
        "message_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, channel TEXT NOT NULL, "
        "country TEXT NOT NULL, status TEXT NOT NULL",
    ),
    Table(
        "analytics_campaign_conversations",
        "conversation_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, channel TEXT NOT NULL, "
        "country TEXT NOT NULL",
    ),
)
FACTS = campaign_moves.FACTS
LOOKUPS = (Lookup("analytics_campaign_conversations", "conversation_id", "*"),)


def apply(tx: Tx, fact: Fact, brand: str, day: str, country: str) -> None:
    """``country``: the recipient's, for a message held or queued."""
    match campaign_moves.move_of(fact):
        case Held(bucket):
            _held(tx, fact.aggregate_id, fact.data, bucket, brand, day, country)
        case Moved(bucket, before):
            _moved(tx, fact.data["message_id"], bucket, before, brand, day)
        case Answered(bucket):
            _answered(tx, fact.aggregate_id, bucket, brand, day)


def _held(
    tx: Tx, conversation: str, d: Any, bucket: str, brand: str, day: str, country: str
) -> None:
    sql = "SELECT * FROM {analytics_campaign_messages} WHERE message_id = %(m)s"
    known = one(tx.rows(sql, {"m": d["message_id"]}))
    campaign = known["campaign_id"] if known else d.get("campaign_id")
    if campaign is None:
        return
    channel = d["channel"]
    if known is None:
        tx.execute(
            "INSERT INTO {analytics_campaign_messages} (message_id, campaign_id, channel, "
            "country, status) VALUES (%(m)s, %(c)s, %(h)s, %(k)s, %(s)s)",
            {"m": d["message_id"], "c": campaign, "h": channel, "k": country, "s": bucket},
        )
        tx.execute(
            "INSERT INTO {analytics_campaign_conversations} (conversation_id, campaign_id, "
            "channel, country) VALUES (%(v)s, %(c)s, %(h)s, %(k)s) "
            "ON CONFLICT (conversation_id) DO UPDATE SET campaign_id = excluded.campaign_id, "
            "channel = excluded.channel, country = excluded.country",
            {"v": conversation, "c": campaign, "h": channel, "k": country},
        )
        tx.forget("analytics_campaign_conversations", conversation)
    else:
        _set(tx, d["message_id"], bucket)
    if bucket == "queued":
        segments = int(d["segments"])
        units = segments if channel == "sms" else 1
        row = (brand, day, campaign, channel, country)
        _bump(tx, row, {"queued": 1, "segments": segments, "units": units})


def _moved(
    tx: Tx, message: str, bucket: str, before: tuple[str, ...], brand: str, day: str
) -> None:
    sql = "SELECT * FROM {analytics_campaign_messages} WHERE message_id = %(m)s"
    known = one(tx.rows(sql, {"m": message}))
    if known is None or known["status"] not in before:
        return
    _set(tx, message, bucket)
    row = (brand, day, known["campaign_id"], known["channel"], known["country"])
    _bump(tx, row, {bucket: 1})


def _answered(tx: Tx, conversation: str, bucket: str, brand: str, day: str) -> None:
    found = tx.lookup("analytics_campaign_conversations", conversation)
    if found is not None:
        row = (brand, day, found["campaign_id"], found["channel"], found["country"])
        _bump(tx, row, {bucket: 1})


def _set(tx: Tx, message: str, status: str) -> None:
    tx.execute(
        "UPDATE {analytics_campaign_messages} SET status = %(s)s WHERE message_id = %(m)s",
        {"s": status, "m": message},
    )


Row = tuple[str, str, str, str, str]  # brand, day, campaign, channel, country


def _bump(tx: Tx, row: Row, counts: dict[str, int]) -> None:
    columns = ("brand_id", "day", "campaign_id", "channel", "country")
    tx.add("analytics_campaigns", dict(zip(columns, row, strict=True)), counts)


@dataclass
class CampaignReport:
    campaign_id: UUID
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    replies: int = 0
    opt_outs: int = 0
    segments: int = 0
    cost: Decimal = Decimal(0)
    unpriced_units: int = 0

    @property
    def opt_out_rate(self) -> float | None:
        """Opt-outs per message that went out; None before any did."""
        return opt_out_rate(self.opt_outs, self.queued)


def opt_out_rate(opt_outs: int, queued: int) -> float | None:
    return round(opt_outs / queued, 4) if queued else None


def campaign_rows(
    rows: list[dict[str, Any]], prices: Mapping[tuple[str, str], Decimal]
) -> list[CampaignReport]:
    """The rows of ``analytics_campaigns`` summed per campaign, cost priced per channel
    and country (else the channel's any-country price), in campaign id order."""
    found: dict[str, CampaignReport] = {}
    for row in rows:
        out = found.setdefault(row["campaign_id"], CampaignReport(UUID(row["campaign_id"])))
        for counter in COUNTERS[:-1]:
            setattr(out, counter, getattr(out, counter) + int(row[counter]))
        units = int(row["units"])
        price = prices.get((row["channel"], row["country"]), prices.get((row["channel"], "")))
        if price is None:
            out.unpriced_units += units
        else:
            out.cost += price * units
    return [found[key] for key in sorted(found)]
