"""What the store holds of a scenario's messages, read back from its events.

A scenario's figure counts only if every message it sent is found there afterwards:
each inbound message received once (none refused), each send delivered. ``Tally`` follows
the store while a scenario runs, reading only the events recorded since its last look, so
that "stored" and "delivered" are what the store says, not a consumer's lag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING
from uuid import UUID

from bench.traffic import PROVIDER

if TYPE_CHECKING:
    from chainon.core import Core

BATCH = 10_000
RECEIVED = "chainon:Conversation.MessageReceived"
REFUSED = "chainon:RefusedInbound.InboundRefused"
QUEUED = "chainon:Conversation.MessageQueued"
DELIVERED = "chainon:Conversation.MessageDelivered"
FAILED = ("chainon:Conversation.MessageFailed", "chainon:Conversation.MessageExpired")


class Tally:
    """Counts the events of some topics as the store records them."""

    def __init__(self, core: Core, topics: Iterable[str], *, after: int = 0) -> None:
        self.core = core
        self.topics = tuple(topics)
        self.next = after + 1
        self.counts: Counter[str] = Counter()

    def advance(self) -> Counter[str]:
        """Reads what was recorded since the last call; returns the counts so far."""
        while batch := self.core.recorder.select_notifications(
            start=self.next, limit=BATCH, topics=self.topics
        ):
            self.counts.update(n.topic for n in batch)
            self.next = batch[-1].id + 1
        return self.counts


def received(
    core: Core, provider_message_ids: Iterable[str], provider: str = PROVIDER
) -> dict[str, int]:
    """Which of these inbound messages the store holds, the conversations they went to, and
    how many inbound messages were refused."""
    from chainon.domain import ids
    from chainon.domain.conversation import Conversation

    expected = {ids.inbound_message_id(provider, i) for i in provider_message_ids}
    found: set[UUID] = set()
    conversations: set[UUID] = set()
    refused = 0
    start = 1
    while batch := core.recorder.select_notifications(
        start=start, limit=BATCH, topics=(RECEIVED, REFUSED)
    ):
        for notification in batch:
            if notification.topic == RECEIVED:
                event = core.mapper.to_domain_event(notification)
                assert isinstance(event, Conversation.MessageReceived)
                if event.message_id in expected:
                    found.add(event.message_id)
                    conversations.add(event.originator_id)
            else:
                refused += 1
        start = batch[-1].id + 1
    return {"received": len(found), "conversations": len(conversations), "refused": refused}


def delivered(core: Core, message_ids: set[UUID]) -> dict[UUID, float]:
    """Which of these outbound messages the store holds as delivered, with the time (POSIX
    seconds) the delivery was recorded."""
    from chainon.domain.conversation import Conversation

    found: dict[UUID, float] = {}
    start = 1
    while batch := core.recorder.select_notifications(
        start=start, limit=BATCH, topics=(DELIVERED,)
    ):
        for notification in batch:
            event = core.mapper.to_domain_event(notification)
            assert isinstance(event, Conversation.MessageDelivered)
            if event.message_id in message_ids and event.message_id not in found:
                found[event.message_id] = event.timestamp.timestamp()
        start = batch[-1].id + 1
    return found
