"""The roles a Chainon process plays: all of them embedded, one per worker distributed.

Apart from the runtime that wires them, so that naming a role (``chainon worker ROLE``)
does not load the store, the bus and the channels.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CORE = "core"  # consumes commands and inbound records
    RELAY = "relay"  # publishes the store's events (the outbox)
    DISPATCH = "dispatch"  # hands outbound messages to the channel provider
    VIEWS = "views"  # keeps the read models the API serves
    WEBHOOKS = "webhooks"  # owes the brands' endpoints their events, and delivers them


EVERY_ROLE = frozenset(Role)
