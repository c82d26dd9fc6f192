"""What a webhook says: one versioned JSON payload per event type, made from public events.

The body follows Standard Webhooks' shape (``type``, ``timestamp``, ``data``) and adds
``schema_version``: a field added to a payload keeps the version, a change of meaning
gets a new one. ``data`` is the public event's own data (as the events topic carries it)
with the ids a receiver needs first.
"""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.domain import Aggregate

from chainon.domain.campaign import Campaign
from chainon.domain.consent import Consent
from chainon.domain.conversation import Conversation
from chainon.projections.projection import Fact

SCHEMA_VERSION = 1

# Public event → (webhook type, extra fields set from the event's kind).
SOURCES: dict[type[Aggregate.Event], tuple[str, dict[str, Any]]] = {
    Conversation.MessageReceived: ("message.received", {}),
    Conversation.MessageQueued: ("message.status", {"status": "queued"}),
    Conversation.MessageSent: ("message.status", {"status": "sent"}),
    Conversation.MessageDelivered: ("message.status", {"status": "delivered"}),
    Conversation.MessageFailed: ("message.status", {"status": "failed"}),
    Conversation.MessageExpired: ("message.status", {"status": "expired"}),
    Conversation.MessageRead: ("message.status", {"status": "read"}),
    Conversation.Opened: ("conversation.opened", {}),
    Conversation.Assigned: ("conversation.assigned", {}),
    Conversation.Resolved: ("conversation.resolved", {}),
    Conversation.FallbackTriggered: ("fallback.triggered", {}),
    Consent.ConsentGranted: ("consent.changed", {"granted": True}),
    Consent.ConsentRevoked: ("consent.changed", {"granted": False}),
    Campaign.Finished: ("campaign.finished", {}),
}
# The id a payload names its aggregate by, by aggregate type (else conversation_id).
SUBJECTS = {"Consent": "consent_id", "Campaign": "campaign_id"}
BY_FACT = {
    cls.TOPIC.removeprefix("chainon:"): kind  # type: ignore[attr-defined]
    for cls, kind in SOURCES.items()
}


def webhook_type(fact: Fact) -> str | None:
    found = BY_FACT.get(fact.type)
    return found[0] if found else None


def payload(fact: Fact) -> dict[str, Any]:
    kind, extra = BY_FACT[fact.type]
    subject = SUBJECTS.get(fact.aggregate_type, "conversation_id")
    return {
        "type": kind,
        "schema_version": SCHEMA_VERSION,
        "timestamp": fact.timestamp.isoformat().replace("+00:00", "Z"),
        "data": {subject: fact.aggregate_id, **extra, **fact.data},
    }


def body(fact: Fact) -> str:
    return json.dumps(payload(fact), separators=(",", ":"), ensure_ascii=False)
