"""What became of each campaign's messages, and what its recipients answered.

From the conversations' events alone (a message names its campaign since MessageQueued
v5), so both feeds and a rebuild build the same rows: a conversation's facts arrive in
order on either feed, and every count here moves on one conversation's facts. A message
is counted in the bucket it is in now: a deferred one released moves to queued, one
blocked at its release to blocked. Replies and opt-outs are counted in conversations a
campaign's message went to, for the last campaign that wrote there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from chainon.projections import campaign_moves
from chainon.projections.analytics import country_of, unit_price
from chainon.projections.campaign_moves import Answered, Held, Moved
from chainon.projections.projection import Fact, Lookup, Projection, Table, Tx, one
from chainon.projections.read_model_store import ReadModelStore

COUNTS = ("queued", "deferred", "blocked", "sent", "delivered", "failed", "replies", "opt_outs")


@dataclass(frozen=True)
class CampaignCounts:
    queued: int = 0
    deferred: int = 0
    blocked: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    replies: int = 0
    opt_outs: int = 0
    segments: int = 0


class CampaignStats(Projection):
    name = "campaign_stats"
    tables = (
        Table(
            "campaign_stats",
            "campaign_id TEXT PRIMARY KEY, "
            + ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in COUNTS)
            + ", segments INTEGER NOT NULL DEFAULT 0",
        ),
        Table(
            "campaign_messages",
            "message_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, status TEXT NOT NULL, "
            "segments INTEGER NOT NULL",
        ),
        Table(
            "campaign_conversations", "conversation_id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL"
        ),
        # Billable units of the queued messages (SMS segments, else messages) by channel and
        # country: SMS prices follow the country, as in the analytics.
        Table(
            "campaign_units",
            "campaign_id TEXT NOT NULL, channel TEXT NOT NULL, country TEXT NOT NULL, "
            "units INTEGER NOT NULL, PRIMARY KEY (campaign_id, channel, country)",
        ),
    )
    facts = campaign_moves.FACTS
    lookups = (Lookup("campaign_conversations", "conversation_id", "campaign_id"),)

    def apply(self, tx: Tx, fact: Fact) -> None:
        match campaign_moves.move_of(fact):
            case Held(bucket):
                self._held(tx, fact.aggregate_id, fact.data, bucket)
            case Moved(bucket, before):
                self._moved(tx, fact.data["message_id"], bucket, before)
            case Answered(bucket):
                self._answered(tx, fact.aggregate_id, bucket)

    def _held(self, tx: Tx, conversation: str, d: Any, bucket: str) -> None:
        known = one(
            tx.rows(
                "SELECT campaign_id, status, segments FROM {campaign_messages} "
                "WHERE message_id = %(m)s",
                {"m": d["message_id"]},
            )
        )
        campaign = known["campaign_id"] if known else d.get("campaign_id")
        if campaign is None:
            return
        segments = int(d["segments"])
        if known is None:
            tx.execute(
                "INSERT INTO {campaign_messages} (message_id, campaign_id, status, segments) "
                "VALUES (%(m)s, %(c)s, %(s)s, %(n)s)",
                {"m": d["message_id"], "c": campaign, "s": bucket, "n": segments},
            )
            tx.execute(
                "INSERT INTO {campaign_conversations} (conversation_id, campaign_id) "
                "VALUES (%(v)s, %(c)s) "
                "ON CONFLICT (conversation_id) DO UPDATE SET campaign_id = excluded.campaign_id",
                {"v": conversation, "c": campaign},
            )
            tx.forget("campaign_conversations", conversation)
            self._count(
                tx, campaign, {bucket: 1, "segments": segments if bucket == "queued" else 0}
            )
            if bucket == "queued":
                self._units(tx, campaign, d)
            return
        self._set(tx, d["message_id"], bucket)
        change = {known["status"]: -1, bucket: 1}
        if bucket == "queued":
            change["segments"] = segments
            self._units(tx, campaign, d)
        self._count(tx, campaign, change)

    @staticmethod
    def _units(tx: Tx, campaign: str, d: Any) -> None:
        channel = d["channel"]
        units = int(d["segments"]) if channel == "sms" else 1
        key = {"campaign_id": campaign, "channel": channel, "country": country_of(d["recipient"])}
        tx.add("campaign_units", key, {"units": units})

    def _moved(self, tx: Tx, message: str, bucket: str, before: tuple[str, ...]) -> None:
        known = one(
            tx.rows(
                "SELECT campaign_id, status FROM {campaign_messages} WHERE message_id = %(m)s",
                {"m": message},
            )
        )
        if known is None or known["status"] not in before:
            return
        self._set(tx, message, bucket)
        self._count(tx, known["campaign_id"], {bucket: 1})

    def _answered(self, tx: Tx, conversation: str, bucket: str) -> None:
        found = tx.lookup("campaign_conversations", conversation)
        if found is not None:
            self._count(tx, found["campaign_id"], {bucket: 1})

    @staticmethod
    def _set(tx: Tx, message: str, status: str) -> None:
        tx.execute(
            "UPDATE {campaign_messages} SET status = %(s)s WHERE message_id = %(m)s",
            {"s": status, "m": message},
        )

    @staticmethod
    def _count(tx: Tx, campaign: str, change: dict[str, int]) -> None:
        tx.add("campaign_stats", {"campaign_id": campaign}, change)


def cost(store: ReadModelStore, campaign_id: UUID) -> tuple[Decimal, int]:
    """What the campaign's queued messages cost at today's prices, and the units no price
    covers."""
    total, unpriced = Decimal(0), 0
    for row in store.query(
        CampaignStats(),
        "SELECT channel, country, units FROM {campaign_units} WHERE campaign_id = %(c)s",
        {"c": str(campaign_id)},
    ):
        units = int(row["units"])
        price = unit_price(row["channel"], row["country"])
        if price is None:
            unpriced += units
        else:
            total += price * units
    return total, unpriced


def counts(store: ReadModelStore, campaign_id: UUID) -> CampaignCounts:
    rows = store.query(
        CampaignStats(),
        "SELECT * FROM {campaign_stats} WHERE campaign_id = %(c)s",
        {"c": str(campaign_id)},
    )
    if not rows:
        return CampaignCounts()
    row = rows[0]
    return CampaignCounts(**{c: int(row[c]) for c in (*COUNTS, "segments")})
