"""Replay: what an endpoint missed, read again from the event log, not from the outbox.

The outbox only holds what an endpoint was owed when each event happened, and forgets it
after the retention; the store keeps every event. A replay reads the brand's events
since a time, keeps those the endpoint's *current* subscriptions ask for (an event type
added later included) and owes them again under the webhook ids a first delivery had or
would have had (``outbox.webhook_id``: the endpoint and the event), so a receiver that
kept them de-duplicates.

It reaches back ``REPLAY_WINDOW`` at most, and never before the endpoint was added: the
brand's history before it is not something that endpoint missed (Stripe and Svix resend
only what an endpoint was owed, too); ``since`` earlier than the endpoint is moved to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from chainon.domain.errors import InvalidInput
from chainon.domain.webhooks import Endpoint
from chainon.projections.facts import Decode, facts_of
from chainon.projections.projection import sortable_utc
from chainon.projections.runner import StoreLog, Views
from chainon.webhooks import outbox as ob
from chainon.webhooks import payloads

REPLAY_WINDOW = timedelta(days=7)
BATCH = 500
# Events are stamped by the core as it writes them, so their times follow their positions
# closely but not strictly (a batch stamped before an earlier one committed): the search
# for the first position starts this much earlier, and times are then compared one by one.
SLACK = timedelta(minutes=5)


def checked_since(since: datetime, now: datetime) -> datetime:
    if since < now - REPLAY_WINDOW:
        raise InvalidInput(
            f"at most {REPLAY_WINDOW.days} days back "
            f"(not before {now - REPLAY_WINDOW:%Y-%m-%dT%H:%M:%SZ})",
            field="since",
        )
    return since


def first_position(log: StoreLog, decode: Decode, since: datetime) -> int:
    """The position of the first event stamped at or after ``since`` (binary search over
    the log, one event decoded per step)."""
    lo, hi = 1, log.head() + 1
    while lo < hi:
        mid = (lo + hi) // 2
        found = log.notifications(start=mid, limit=1)
        if not found:
            hi = mid
        elif decode(found[0]).timestamp < since:  # type: ignore[attr-defined]
            lo = found[0].id + 1
        else:
            hi = mid
    return lo


def replay(
    views: Views,
    outbox: ob.WebhookOutbox,
    brand_id: UUID,
    endpoint: Endpoint,
    since: datetime,
    now: datetime,
) -> tuple[int, datetime]:
    """Owes the endpoint again every event of its brand it wants since ``since`` (moved
    to the endpoint's creation if earlier); returns how many, and from when."""
    # Moved first, then checked: an old ``since`` asks for everything since the endpoint
    # was added, which the window allows when the endpoint is recent.
    since = checked_since(max(since, endpoint.created_at), now)
    log, store = views.log, views.store
    start, head = first_position(log, views.decode, since - SLACK), log.head()
    owners: dict[str, str | None] = {}
    owed = 0
    while start <= head and (batch := log.notifications(start=start, limit=BATCH, stop=head)):
        start = batch[-1].id + 1
        wanted = [
            (f, kind)
            for f in facts_of(views.decode, batch)
            if f.timestamp >= since and (kind := payloads.webhook_type(f)) and endpoint.wants(kind)
        ]
        if not wanted:
            continue
        with store.transaction() as cur:
            names = store.names(outbox)
            for fact, kind in wanted:
                subject_id = payloads.subject(fact)[1]
                if subject_id not in owners:
                    rows = store.fetch(
                        cur,
                        names.statement(
                            "SELECT brand_id FROM {webhook_owners} WHERE aggregate_id = %(a)s"
                        ),
                        {"a": subject_id},
                    )
                    owners[subject_id] = rows[0]["brand_id"] if rows else None
                if owners[subject_id] != str(brand_id):
                    continue
                cur.execute(names.statement(_OWE), _row(endpoint, fact, kind, brand_id, now))
                owed += 1
    return owed, since


_OWE = (
    "INSERT INTO {webhook_deliveries} (id, endpoint_id, brand_id, event_type, occurred_at, "
    "body, status, attempts, next_attempt_at) VALUES (%(id)s, %(e)s, %(b)s, %(t)s, %(at)s, "
    "%(body)s, 'pending', 0, %(now)s) ON CONFLICT (id) DO UPDATE SET status = 'pending', "
    "attempts = 0, first_attempt_at = NULL, next_attempt_at = %(now)s"
)


def _row(endpoint: Endpoint, fact: Any, kind: str, brand_id: UUID, now: datetime) -> dict[str, Any]:
    return {
        "id": ob.webhook_id(endpoint.id, fact),
        "e": str(endpoint.id),
        "b": str(brand_id),
        "t": kind,
        "at": sortable_utc(fact.timestamp),
        "body": payloads.body(fact),
        "now": sortable_utc(now),
    }
