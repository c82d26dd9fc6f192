"""The conversation's events: what is stored for each fact, with its version and upcasters.

They live apart from the aggregate to keep its modules about decisions. The part of the
aggregate that applies an event names it in its class body and decorates its ``@event``
method with it; eventsourcing then derives the class it triggers from this one
(``Conversation.MessageReceived`` is that class, a subclass of this ``MessageReceived``),
and each is stored and read back through its explicit ``TOPIC``, never through its module.
Never change the meaning of a stored event: add a version with an upcaster, or a new event.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain.consent import Purpose


class Event(Aggregate.Event):
    TOPIC = "chainon:Conversation.Event"


class Created(Event, Aggregate.Created):
    TOPIC = "chainon:Conversation.Created"


class Opened(Created):
    TOPIC = "chainon:Conversation.Opened"
    brand_id: UUID
    contact_id: UUID
    number: int


class MessageReceived(Event):
    """v2 keeps an email's subject and the description of its attachments, and says
    whether a machine sent it (an auto-reply); v1 events had none of them."""

    TOPIC = "chainon:Conversation.MessageReceived"
    class_version = 2
    personal_fields: ClassVar[tuple[str, ...]] = ("sender", "body", "subject", "attachments")
    message_id: UUID
    channel: str
    sender: str
    recipient: str
    body: str
    provider: str
    provider_message_id: str
    request_id: str | None
    subject: str | None
    attachments: list[dict[str, object]]
    automatic: bool

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["subject"] = None
        state["attachments"] = []
        state["automatic"] = False


class MessageQueued(Event):
    """v2 carries RCS rich content and, for a fallback SMS, the RCS message it
    replaces; v1 events had neither. v3 says whether the contact's handset was known,
    freshly, to take RCS when it was queued (dispatch then does not ask the provider
    again); earlier events did not know it. v4 says why it was sent (``purpose``:
    conversational, service or marketing); earlier sends were all taken as service,
    the purpose that asks for no consent. v5 names the campaign that sent it
    (``campaign_id``); earlier messages were none's."""

    TOPIC = "chainon:Conversation.MessageQueued"
    class_version = 5
    personal_fields: ClassVar[tuple[str, ...]] = ("recipient", "body", "rich")
    message_id: UUID
    channel: str
    sender: str
    recipient: str
    body: str
    encoding: str | None
    segments: int
    replaced: list[str]
    request_id: str | None
    rich: dict[str, object] | None
    fallback_of: UUID | None
    capability_known: bool
    purpose: str
    campaign_id: UUID | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["rich"] = None
        state["fallback_of"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, object]) -> None:
        state["capability_known"] = False

    @staticmethod
    def upcast_v3_v4(state: dict[str, object]) -> None:
        state["purpose"] = Purpose.SERVICE.value

    @staticmethod
    def upcast_v4_v5(state: dict[str, object]) -> None:
        state["campaign_id"] = None


class MessageDeferred(Event):
    """Quiet hours hold a send: recorded with all it says, queued at ``release_at`` if
    the policy, asked again then, still allows it. A deferred message deferred again
    (the window moved) gets a new release time."""

    TOPIC = "chainon:Conversation.MessageDeferred"
    class_version = 2  # v2 names the campaign that sent it; v1 messages were none's
    personal_fields: ClassVar[tuple[str, ...]] = ("recipient", "body", "rich")
    message_id: UUID
    channel: str
    sender: str
    recipient: str
    body: str
    encoding: str | None
    segments: int
    replaced: list[str]
    request_id: str | None
    rich: dict[str, object] | None
    purpose: str
    release_at: datetime
    not_after: datetime | None
    fallback_after_seconds: int | None
    campaign_id: UUID | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["campaign_id"] = None


class MessageBlocked(Event):
    """The send policy refused a send (``reason``: opted_out, no_marketing_consent,
    quiet_hours_past_deadline, not_conversational, …): kept in the conversation with
    what it said, never sent. Also the end of a deferred message the policy refused at
    its release."""

    TOPIC = "chainon:Conversation.MessageBlocked"
    class_version = 2  # v2 names the campaign that sent it; v1 messages were none's
    personal_fields: ClassVar[tuple[str, ...]] = ("recipient", "body", "rich")
    message_id: UUID
    channel: str
    sender: str
    recipient: str
    body: str
    encoding: str | None
    segments: int
    replaced: list[str]
    request_id: str | None
    rich: dict[str, object] | None
    purpose: str
    reason: str
    campaign_id: UUID | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["campaign_id"] = None


class ReplyAuthored(Event):
    """Which of the brand's agents wrote a reply (recorded beside the message, which
    says what was sent; a reply by a brand's key names no one)."""

    TOPIC = "chainon:Conversation.ReplyAuthored"
    message_id: UUID
    author: str


class ConsentRequestRead(Event):
    """An inbound message was read as a word about consent: ``request`` is opt_out,
    opt_out_all, opt_in or help; ``rule`` the keyword or detector rule that fired.
    Not ``certain``: the detector's "uncertain" (marketing stopped by default, and a
    person asked to confirm: the agent queue flags a possible opt-out)."""

    TOPIC = "chainon:Conversation.ConsentRequestRead"
    message_id: UUID
    request: str
    rule: str
    certain: bool


class FallbackPlanned(Event):
    """An RCS message falls back to ``channel`` unless DELIVERED before ``deadline``."""

    TOPIC = "chainon:Conversation.FallbackPlanned"
    message_id: UUID
    channel: str
    deadline: datetime


class RevocationRequested(Event):
    """The deadline passed undelivered: the provider is asked to take the message back."""

    TOPIC = "chainon:Conversation.RevocationRequested"
    message_id: UUID


class MessageRevoked(Event):
    TOPIC = "chainon:Conversation.MessageRevoked"
    message_id: UUID


class RevocationFailed(Event):
    """The provider could not take it back (it was delivered, or it refused): no
    replacement is sent, because the consumer may have it."""

    TOPIC = "chainon:Conversation.RevocationFailed"
    message_id: UUID
    reason: str


class SuggestionChosen(Event):
    """An inbound message picked one of a rich message's suggestions: tapped on RCS, or
    answered by its number on the SMS that replaced it ("2" → the second one)."""

    TOPIC = "chainon:Conversation.SuggestionChosen"
    message_id: UUID  # the inbound message
    in_reply_to: UUID | None  # the rich message offering the suggestion, when known
    postback_data: str
    text: str


class FallbackTriggered(Event):
    TOPIC = "chainon:Conversation.FallbackTriggered"
    message_id: UUID | None  # None: the contact was known not to be RCS-capable
    reason: str
    channel: str
    replacement_id: UUID


class MessageSent(Event):
    """v2 lists the provider's id of every segment: a long SMS is delivered when all its
    parts are. v1 events (one id) upcast to one segment. v3 says until when a receipt
    is awaited (None: a channel without receipts, or sent before deadlines existed);
    without one by then, the message is expired (``ReceiptOverdue``)."""

    TOPIC = "chainon:Conversation.MessageSent"
    class_version = 3
    message_id: UUID
    provider: str
    provider_message_id: str
    segment_ids: list[str]
    receipt_deadline: datetime | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["segment_ids"] = [state["provider_message_id"]]

    @staticmethod
    def upcast_v2_v3(state: dict[str, object]) -> None:
        state["receipt_deadline"] = None


class SegmentDelivered(Event):
    """One part of a concatenated SMS arrived; the message waits for the others."""

    TOPIC = "chainon:Conversation.SegmentDelivered"
    message_id: UUID
    segment_id: str


class MessageDelivered(Event):
    TOPIC = "chainon:Conversation.MessageDelivered"
    message_id: UUID


class MessageRead(Event):
    """The consumer opened the message (RCS read receipts)."""

    TOPIC = "chainon:Conversation.MessageRead"
    message_id: UUID


class MessageFailed(Event):
    TOPIC = "chainon:Conversation.MessageFailed"
    message_id: UUID
    reason: str


class MessageExpired(Event):
    TOPIC = "chainon:Conversation.MessageExpired"
    message_id: UUID


class ReceiptOverdue(Event):
    """No receipt came by the deadline: the message is expired, for ``reason``. Not a
    ``MessageExpired``, which is the provider's own receipt saying so."""

    TOPIC = "chainon:Conversation.ReceiptOverdue"
    message_id: UUID
    reason: str


class Assigned(Event):
    """v2 says how: ``assigned`` (by someone, through the API) or ``claimed`` (an agent
    took it from the queue). v1 events, stored before the queue existed, were all
    assignments."""

    TOPIC = "chainon:Conversation.Assigned"
    class_version = 2
    agent: str | None
    team: str | None
    how: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["how"] = "assigned"


class Prioritized(Event):
    TOPIC = "chainon:Conversation.Prioritized"
    priority: int


class Tagged(Event):
    TOPIC = "chainon:Conversation.Tagged"
    tag: str


class Untagged(Event):
    TOPIC = "chainon:Conversation.Untagged"
    tag: str


class Resolved(Event):
    TOPIC = "chainon:Conversation.Resolved"
    by: str


class Reopened(Event):
    TOPIC = "chainon:Conversation.Reopened"
    reason: str
