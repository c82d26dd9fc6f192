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

from chainon.domain.bot import Bot
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
    Conversation.MessageExpired: ("message.status", {"status": "expired"}),  # the provider said
    Conversation.ReceiptOverdue: ("message.status", {"status": "expired"}),  # no receipt in time
    Conversation.MessageRead: ("message.status", {"status": "read"}),
    Conversation.MessageBlocked: ("message.status", {"status": "blocked"}),  # never sent
    Conversation.Opened: ("conversation.opened", {}),
    Conversation.Assigned: ("conversation.assigned", {}),
    Conversation.Resolved: ("conversation.resolved", {}),
    Conversation.FallbackTriggered: ("fallback.triggered", {}),
    Consent.ConsentGranted: ("consent.changed", {"granted": True}),
    Consent.ConsentRevoked: ("consent.changed", {"granted": False}),
    Campaign.Finished: ("campaign.finished", {}),
    Bot.HandedOff: ("flow.handed_off", {}),
}
# The id a payload names its subject by, by aggregate type (else conversation_id): the
# aggregate's id, unless the event names it itself (a bot's events name their conversation;
# the bot's own id means nothing outside).
SUBJECTS = {"Consent": "consent_id", "Campaign": "campaign_id"}
BY_FACT = {
    cls.TOPIC.removeprefix("chainon:"): kind  # type: ignore[attr-defined]
    for cls, kind in SOURCES.items()
}


def webhook_type(fact: Fact) -> str | None:
    found = BY_FACT.get(fact.type)
    return found[0] if found else None


def subject(fact: Fact) -> tuple[str, str]:
    """The field a payload names its subject by, and the subject's id: what a brand's
    webhooks are owed is found by it (``outbox``: its owner)."""
    field = SUBJECTS.get(fact.aggregate_type, "conversation_id")
    return field, str(fact.data.get(field, fact.aggregate_id))


def payload(fact: Fact) -> dict[str, Any]:
    kind, extra = BY_FACT[fact.type]
    field, subject_id = subject(fact)
    return {
        "type": kind,
        "schema_version": SCHEMA_VERSION,
        "timestamp": fact.timestamp.isoformat().replace("+00:00", "Z"),
        "data": {field: subject_id, **extra, **fact.data},
    }


def body(fact: Fact) -> str:
    return json.dumps(payload(fact), separators=(",", ":"), ensure_ascii=False)
