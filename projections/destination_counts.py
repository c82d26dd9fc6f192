"""What the SMS-pumping guard counts (``domain.sending_limits``): a brand's sends per
destination country and clock hour, per hour to numbers that never wrote back, per number
prefix and 10 minutes, and the numbers that ever wrote to it.

A read model, not an aggregate: every send would otherwise write one brand-wide record
and a campaign's batches would queue behind it. The send decision reads it
(``chainon.destination_counts``), so its counts lag the store by the projection's lag
(the README's "Sending limits" says how far, and the margin kept for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from chainon.domain.channels import Channel
from chainon.domain.sending_limits import USUAL_SPAN, destination_of, hour_of, window_of
from chainon.projections.projection import Fact, Lookup, Projection, Table, Tx
from chainon.projections.read_model_store import ReadModelStore


class DestinationCounts(Projection):
    name = "destination_counts"
    tables = (
        Table("pumping_conversations", "conversation_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL"),
        Table(
            "pumping_countries",
            "brand_id TEXT NOT NULL, country TEXT NOT NULL, hour TEXT NOT NULL, "
            "sends BIGINT NOT NULL, PRIMARY KEY (brand_id, country, hour)",
        ),
        Table(
            "pumping_never_replied",
            "brand_id TEXT NOT NULL, hour TEXT NOT NULL, sends BIGINT NOT NULL, "
            "PRIMARY KEY (brand_id, hour)",
        ),
        Table(
            "pumping_prefixes",
            "brand_id TEXT NOT NULL, prefix TEXT NOT NULL, slot TEXT NOT NULL, "
            "sends BIGINT NOT NULL, PRIMARY KEY (brand_id, prefix, slot)",
        ),
        Table(
            "pumping_replied",
            "brand_id TEXT NOT NULL, number TEXT NOT NULL, PRIMARY KEY (brand_id, number)",
        ),
    )
    facts = frozenset(
        {"Conversation.Opened", "Conversation.MessageQueued", "Conversation.MessageReceived"}
    )
    lookups = (Lookup("pumping_conversations", "conversation_id", "brand_id"),)

    def apply(self, tx: Tx, fact: Fact) -> None:
        d = fact.data
        if fact.type == "Conversation.Opened":
            tx.execute(
                "INSERT INTO {pumping_conversations} (conversation_id, brand_id) "
                "VALUES (%(c)s, %(b)s) ON CONFLICT (conversation_id) DO NOTHING",
                {"c": fact.aggregate_id, "b": d["brand_id"]},
            )
            tx.inserted("pumping_conversations", fact.aggregate_id, {"brand_id": d["brand_id"]})
            return
        found = tx.lookup("pumping_conversations", fact.aggregate_id)
        if found is None:
            return
        brand = found["brand_id"]
        if fact.type == "Conversation.MessageReceived":
            if str(d["sender"]).startswith("+"):
                tx.add("pumping_replied", {"brand_id": brand, "number": d["sender"]}, {})
            return
        to = destination_of(Channel(d["channel"]), str(d["recipient"]))
        if to is None:
            return
        hour, slot = hour_of(fact.timestamp), window_of(fact.timestamp)
        one_more = {"sends": 1}
        country = {"brand_id": brand, "country": to.country, "hour": hour}
        tx.add("pumping_countries", country, one_more)
        tx.add("pumping_prefixes", {"brand_id": brand, "prefix": to.prefix, "slot": slot}, one_more)
        replied = tx.rows(
            "SELECT 1 AS r FROM {pumping_replied} WHERE brand_id = %(b)s AND number = %(n)s",
            {"b": brand, "n": to.number},
        )
        if not replied:
            tx.add("pumping_never_replied", {"brand_id": brand, "hour": hour}, one_more)


def _in(name: str, values: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """``(%(name0)s, %(name1)s, …)`` and its parameters: an IN list both backends take."""
    params = {f"{name}{i}": v for i, v in enumerate(values)}
    return "(" + ", ".join(f"%({k})s" for k in params) + ")", params


class CountsRead:
    """One brand's counts for a batch's destinations, read in four queries."""

    def __init__(
        self,
        store: ReadModelStore,
        brand_id: UUID,
        now: datetime,
        countries: set[str],
        prefixes: set[str],
        numbers: set[str],
    ) -> None:
        projection = DestinationCounts()
        brand, hour = str(brand_id), hour_of(now)
        self.country_hour: dict[str, int] = {}
        self.prefix_now: dict[str, int] = {}
        self.prefix_before: dict[str, int] = {}
        self.replied: set[str] = set()
        self.never_replied = 0
        base: Mapping[str, Any] = {"b": brand, "h": hour}
        if countries:
            clause, params = _in("c", countries)
            for r in store.query(
                projection,
                "SELECT country, sends FROM {pumping_countries} WHERE brand_id = %(b)s "
                f"AND hour = %(h)s AND country IN {clause}",
                {**base, **params},
            ):
                self.country_hour[r["country"]] = int(r["sends"])
        rows = store.query(
            projection,
            "SELECT sends FROM {pumping_never_replied} WHERE brand_id = %(b)s AND hour = %(h)s",
            base,
        )
        self.never_replied = int(rows[0]["sends"]) if rows else 0
        if prefixes:
            clause, params = _in("p", prefixes)
            slot, since = window_of(now), window_of(now - USUAL_SPAN)
            for r in store.query(
                projection,
                "SELECT prefix, slot, sends FROM {pumping_prefixes} WHERE brand_id = %(b)s "
                f"AND slot >= %(since)s AND prefix IN {clause}",
                {**base, **params, "since": since},
            ):
                counts = self.prefix_now if r["slot"] == slot else self.prefix_before
                counts[r["prefix"]] = counts.get(r["prefix"], 0) + int(r["sends"])
        if numbers:
            clause, params = _in("n", numbers)
            for r in store.query(
                projection,
                "SELECT number FROM {pumping_replied} WHERE brand_id = %(b)s "
                f"AND number IN {clause}",
                {**base, **params},
            ):
                self.replied.add(r["number"])
