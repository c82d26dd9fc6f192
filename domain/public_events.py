"""Which stored events leave the core, and what of them is shown.

The relay publishes these on the events topic and the projections read the same ones
from the store, so the rule lives once, here. Internal plumbing (index entries,
idempotency records) and secrets (API key hashes) stay inside; everything a brand or a
projection may care about goes out.
"""

from __future__ import annotations

from typing import Any

PUBLIC = (
    "chainon:Conversation.",
    "chainon:Contact.",
    "chainon:RefusedInbound.",
    "chainon:Consent.",
    "chainon:Bot.",
)
PUBLIC_BRAND = (
    "chainon:Brand.Registered",
    "chainon:Brand.SenderAddressAdded",
    "chainon:Brand.QueueConfigured",
    "chainon:Brand.AgentCapacitySet",
)
# A campaign's draft (its brand, name and channel) and its end: what the `campaign.finished`
# webhook is made of. Its steering in between (scheduled, paused, batches) is the brand's
# own doing, read through the API; what its messages became is in their conversations.
PUBLIC_CAMPAIGN = (
    "chainon:Campaign.Drafted",
    "chainon:Campaign.Finished",
)
# The store's bookkeeping of every event: the published record carries them in its own
# fields (aggregate id and version, timestamp, type), not in the event's data.
HIDDEN_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def is_public(topic: str) -> bool:
    return topic.startswith(PUBLIC) or topic in PUBLIC_BRAND or topic in PUBLIC_CAMPAIGN


def event_data(event: object) -> dict[str, Any]:
    """A domain event's own fields, as the events topic carries them."""
    return {k: v for k, v in event.__dict__.items() if k not in HIDDEN_FIELDS}
