"""What each endpoint is owed: the outbox, filled from the public events exactly once.

It is fed like a projection (``projections.runner``: from the store embedded, from the
events topic distributed), under its own feed position, in its own database: the rows an
event owes and the feed's tracking commit in one transaction, so a crash or a re-delivered
record never owes an event twice, and nothing is lost. It is not in the catalogue of read
models: a rebuild must not send every webhook again, and ``projections verify`` would take
the settled rows pruned after the retention (``prune``) for a divergence.

An endpoint is owed the events of its brand that happened after it was added, of the
types it asked for, while enabled. The webhook id is derived from the endpoint and the
event, so it stays the same on every retry and on a replay (``chainon.webhooks.replay``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from chainon.projections.projection import Fact, Projection, Table, Tx, sortable_utc
from chainon.projections.read_model_store import ReadModelStore
from chainon.webhooks import payloads

FEED = "feed:webhooks"
Subscribers = Callable[[UUID, str, datetime], list[UUID]]  # brand, type, when → endpoints

PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
_OWNERS = {
    "Conversation.Opened": "conversation",
    "Consent.Opened": "consent",
    "Campaign.Drafted": "campaign",
}


def webhook_id(endpoint_id: UUID, fact: Fact) -> str:
    return "msg_" + uuid5(endpoint_id, f"{fact.aggregate_id}:{fact.aggregate_version}").hex


class WebhookOutbox(Projection):
    name = "webhook_outbox"
    tables = (
        Table("webhook_owners", "aggregate_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL"),
        Table(
            "webhook_deliveries",
            "id TEXT PRIMARY KEY, endpoint_id TEXT NOT NULL, brand_id TEXT NOT NULL, "
            "event_type TEXT NOT NULL, occurred_at TEXT NOT NULL, body TEXT NOT NULL, "
            "status TEXT NOT NULL, attempts INTEGER NOT NULL, first_attempt_at TEXT, "
            "next_attempt_at TEXT NOT NULL, last_status_code INTEGER, delivered_at TEXT",
            indexes=("endpoint_id, status, next_attempt_at", "status, next_attempt_at"),
        ),
        Table(
            "webhook_attempts",
            "delivery_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, event_type TEXT NOT NULL, "
            "at TEXT NOT NULL, status_code INTEGER, duration_ms INTEGER NOT NULL, "
            "error TEXT NOT NULL, next_retry_at TEXT",
            indexes=("endpoint_id, at", "delivery_id"),
        ),
    )
    facts = frozenset({*payloads.BY_FACT, *_OWNERS})

    def __init__(self, subscribers: Subscribers | None = None) -> None:
        self.subscribers = subscribers or (lambda brand, kind, at: [])

    def apply(self, tx: Tx, fact: Fact) -> None:
        if fact.type in _OWNERS:
            tx.execute(
                "INSERT INTO {webhook_owners} (aggregate_id, brand_id) VALUES (%(a)s, %(b)s) "
                "ON CONFLICT (aggregate_id) DO NOTHING",
                {"a": fact.aggregate_id, "b": fact.data["brand_id"]},
            )
        kind = payloads.webhook_type(fact)
        if kind is None:
            return
        owner = tx.rows(
            "SELECT brand_id FROM {webhook_owners} WHERE aggregate_id = %(a)s",
            {"a": payloads.subject(fact)[1]},
        )
        if not owner:
            return
        brand_id = owner[0]["brand_id"]
        endpoints = self.subscribers(UUID(brand_id), kind, fact.timestamp)
        if not endpoints:
            return
        body, at = payloads.body(fact), sortable_utc(fact.timestamp)
        for endpoint_id in endpoints:
            tx.execute(
                "INSERT INTO {webhook_deliveries} (id, endpoint_id, brand_id, event_type, "
                "occurred_at, body, status, attempts, next_attempt_at) VALUES (%(id)s, %(e)s, "
                "%(b)s, %(t)s, %(at)s, %(body)s, 'pending', 0, %(at)s) "
                "ON CONFLICT (id) DO NOTHING",
                {
                    "id": webhook_id(endpoint_id, fact),
                    "e": str(endpoint_id),
                    "b": brand_id,
                    "t": kind,
                    "at": at,
                    "body": body,
                },
            )


# A row's last word is its ``next_attempt_at``: the delivering attempt's time once delivered,
# the last attempt's once given up.
_SETTLED = (
    "SELECT id FROM {webhook_deliveries} WHERE status IN ('delivered', 'failed', 'skipped') "
    "AND next_attempt_at < %(before)s ORDER BY next_attempt_at, id LIMIT %(n)s"
)


def prune(store: ReadModelStore, outbox: WebhookOutbox, before: datetime, limit: int) -> int:
    """Deletes up to ``limit`` settled deliveries whose last word came before ``before``,
    with their attempts (none of which is newer); what is still owed stays, whatever its
    age. Returns how many deliveries went."""
    with store.transaction() as cur:
        names = store.names(outbox)
        params = {"before": ts(before), "n": limit}
        cur.execute(
            names.statement(f"DELETE FROM {{webhook_attempts}} WHERE delivery_id IN ({_SETTLED})"),
            params,
        )
        gone = store.fetch(
            cur,
            names.statement(
                f"DELETE FROM {{webhook_deliveries}} WHERE id IN ({_SETTLED}) RETURNING id"
            ),
            params,
        )
    return len(gone)


def ts(at: datetime) -> str:
    return sortable_utc(at)


def attempts(
    store: ReadModelStore, outbox: WebhookOutbox, endpoint_id: UUID, limit: int
) -> list[dict[str, Any]]:
    return store.query(
        outbox,
        "SELECT delivery_id, event_type, at, status_code, duration_ms, error, next_retry_at "
        "FROM {webhook_attempts} WHERE endpoint_id = %(e)s ORDER BY at DESC LIMIT %(n)s",
        {"e": str(endpoint_id), "n": limit},
    )
