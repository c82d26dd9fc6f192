"""The conversation aggregate: every message between a brand and a contact, on any channel.

Command methods decide and refuse with a reason; the ``@event`` methods only apply state,
because they run again on every replay.

The aggregate is assembled from parts by concern, each a module of its own:
``conversation_messages`` records messages in and out, ``conversation_delivery`` follows
them after they left, ``conversation_fallback`` replaces an RCS message by an SMS, and
``conversation_handling`` is what agents do with the conversation. Each part is a small
aggregate class of its own, because eventsourcing reads ``@event`` methods from the class
body that defines them. This body then names each part's events again: a class named here
is registered under its explicit ``TOPIC`` as it is, where an inherited one would be
defined anew and lose its ``@event`` method. Their versions and upcasters are in
``conversation_events``. The decisions that are not state changes live apart
(``conversation_rules``, ``routing``, ``channel_choice``, ``choices``, ``early_receipt``,
``agent_desk``, ``held_messages``), and so do the values the state holds (``message``).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from chainon.domain import conversation_events as events
from chainon.domain.conversation_delivery import Deliveries
from chainon.domain.conversation_fallback import Fallbacks
from chainon.domain.conversation_handling import (
    MAX_PRIORITY,
    MAX_TAG_LENGTH,
    Handling,
    normalise_tag,
)
from chainon.domain.conversation_messages import MessageRecords
from chainon.domain.conversation_state import READ_BACK
from chainon.domain.message import (
    Fallback,
    FallbackReason,
    FallbackState,
    Hold,
    Message,
    Outgoing,
    awaits_receipt,
)

# The message values lived here before ``domain.message``, and the tag rules before
# ``conversation_handling``: imports of them from here stay.
__all__ = [
    "MAX_PRIORITY",
    "MAX_TAG_LENGTH",
    "Conversation",
    "Fallback",
    "FallbackReason",
    "FallbackState",
    "Hold",
    "Message",
    "Outgoing",
    "awaits_receipt",
    "normalise_tag",
]


class Conversation(MessageRecords, Deliveries, Fallbacks, Handling):
    TOPIC = "chainon:Conversation"

    Event = events.Event
    Created = events.Created
    Opened = events.Opened
    MessageReceived = MessageRecords.MessageReceived
    MessageQueued = MessageRecords.MessageQueued
    MessageDeferred = MessageRecords.MessageDeferred
    MessageBlocked = MessageRecords.MessageBlocked
    ReplyAuthored = MessageRecords.ReplyAuthored
    ConsentRequestRead = MessageRecords.ConsentRequestRead
    SuggestionChosen = MessageRecords.SuggestionChosen
    MessageSent = Deliveries.MessageSent
    SegmentDelivered = Deliveries.SegmentDelivered
    MessageDelivered = Deliveries.MessageDelivered
    MessageRead = Deliveries.MessageRead
    MessageFailed = Deliveries.MessageFailed
    MessageExpired = Deliveries.MessageExpired
    ReceiptOverdue = Deliveries.ReceiptOverdue
    FallbackPlanned = Fallbacks.FallbackPlanned
    RevocationRequested = Fallbacks.RevocationRequested
    MessageRevoked = Fallbacks.MessageRevoked
    RevocationFailed = Fallbacks.RevocationFailed
    FallbackTriggered = Fallbacks.FallbackTriggered
    Assigned = Handling.Assigned
    Prioritized = Handling.Prioritized
    Tagged = Handling.Tagged
    Untagged = Handling.Untagged
    Resolved = Handling.Resolved
    Reopened = Handling.Reopened

    @event(Opened)
    def __init__(self, brand_id: UUID, contact_id: UUID, number: int) -> None:
        self.brand_id = brand_id
        self.contact_id = contact_id
        self.number = number
        self.resolved = False
        self.agent = None
        self.team = None
        self.tags = []
        self.priority = 0
        self.claimed = False
        self.messages = {}
        self.last_activity_at = self.created_on
        self.choices = {}
        self.possible_opt_out = None
        self.order = []
        self.last_inbound_id = None
        self.last_outbound_id = None
        self.contact_wrote_at = None
        self.written_lately = deque(maxlen=READ_BACK)
        self.aged_until = 0
        self.aged_waiting = []

    @classmethod
    def open(
        cls, conversation_id: UUID, brand_id: UUID, contact_id: UUID, number: int, *, at: datetime
    ) -> Conversation:
        return cls._create(
            cls.Opened,
            id=conversation_id,
            timestamp=at,
            brand_id=brand_id,
            contact_id=contact_id,
            number=number,
        )
