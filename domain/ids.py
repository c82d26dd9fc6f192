"""Deterministic identifiers.

Where a natural key exists, the id is a uuid5 of it, so that a repeat (a provider's retry,
a second worker racing the first) collides in the event store instead of creating a twin.
The namespace keeps raw phone numbers and emails out of aggregate ids.
"""

from __future__ import annotations

import functools
from uuid import UUID, uuid5

NAMESPACE = UUID("4f1c5b2e-6d1a-5c3e-9b7a-0c4e2f6a8d10")


@functools.lru_cache(maxsize=16384)
def _named(name: str) -> UUID:
    """uuid5 is a SHA-1 and a UUID built in Python; a message's ids are asked for several
    times while it is decided (prefetch, deduplication, the handler), so the last few
    thousand are remembered."""
    return uuid5(NAMESPACE, name)


def brand_id(slug: str) -> UUID:
    return _named(f"brand:{slug}")


def contact_id(brand: UUID, first_address: str) -> UUID:
    return _named(f"contact:{brand}:{first_address}")


def conversation_id(contact: UUID, number: int) -> UUID:
    """The n-th conversation of a contact: two workers opening it at once collide."""
    return _named(f"conversation:{contact}:{number}")


def inbound_message_id(
    provider: str, provider_message_id: str, brand_id: UUID | None = None
) -> UUID:
    """With ``brand_id``, for a provider whose ids are unique within a brand only (the
    sandbox): two brands' messages with one provider id are two messages."""
    if brand_id is None:
        return _named(f"inbound:{provider}:{provider_message_id}")
    return _named(f"inbound-brand:{brand_id}:{provider}:{provider_message_id}")


def index_id(kind: str, key: str) -> UUID:
    """The id of an index entry (address → brand, key hash → brand, address → contact…)."""
    return _named(f"index:{kind}:{key}")


def early_receipt_id(provider: str, provider_message_id: str) -> UUID:
    """Receipts a provider sent for an id no message had yet: one per (provider, id)."""
    return _named(f"early-receipt:{provider}:{provider_message_id}")


def fallback_message_id(message_id: UUID) -> UUID:
    """The replacement of an RCS message: one id, so a repeated trigger cannot send two."""
    return _named(f"fallback:{message_id}")


def agent_desk_id(brand: UUID, agent: str) -> UUID:
    """An agent's desk within a brand: two claims for one agent meet on it in the store."""
    return _named(f"agent-desk:{brand}:{agent}")


def idempotent_request_id(brand: UUID, key: str) -> UUID:
    """A brand's request under an Idempotency-Key (not memoised: keys rarely repeat)."""
    return uuid5(NAMESPACE, f"idempotency:{brand}:{key}")


def consent_id(brand: UUID, contact: UUID) -> UUID:
    """A contact's consent ledger with a brand: every change of one contact meets there."""
    return _named(f"consent:{brand}:{contact}")


def campaign_message_id(campaign: UUID, address: str) -> UUID:
    """A campaign's message to one recipient: a worker restarted mid-batch sends it again
    under the same id, which the conversation already holds, so nobody gets it twice."""
    return uuid5(NAMESPACE, f"campaign-message:{campaign}:{address}")


def webhook_endpoints_id(brand: UUID) -> UUID:
    """The one aggregate holding a brand's webhook endpoints."""
    return _named(f"webhooks:{brand}")


def flow_library_id(brand: UUID) -> UUID:
    """The one aggregate holding every published version of a brand's flows."""
    return _named(f"flows:{brand}")


def bot_id(conversation: UUID) -> UUID:
    """The bot of a conversation: every dialogue a flow held in it."""
    return _named(f"bot:{conversation}")


def destination_blocks_id(brand: UUID) -> UUID:
    """The one aggregate holding the number prefixes a brand's sends are blocked from."""
    return _named(f"destination-blocks:{brand}")
