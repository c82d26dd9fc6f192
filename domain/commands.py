"""Commands: what a brand's systems, agents and channel adapters ask the core to do.

Each is a versioned pydantic model with a ``type``, so that the same shapes travel over
the HTTP API and, later, the Kafka commands topic. The conversation's and messages'
commands live here; a brand's configuration, consent and campaigns have modules of their
own, re-exported here so that ``commands.X`` names every command.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from chainon.domain.attachments import MAX_ATTACHMENTS, Attachment
from chainon.domain.campaign_commands import (
    ChangeCampaign,
    CreateCampaign,
    ImportCampaignAudience,
    RecordCampaignBatch,
    ScheduleCampaign,
    StartCampaign,
)
from chainon.domain.channels import Channel
from chainon.domain.command_base import Address, Command, Name, Outcome, ReceivedText, Tag, Text
from chainon.domain.consent import Purpose
from chainon.domain.consent_commands import ChangeConsent, GrantConsent, RevokeConsent, Unsubscribe
from chainon.domain.message_status import MessageStatus
from chainon.domain.plain_text import PlainText
from chainon.domain.rich_content import RichContent
from chainon.domain.settings_commands import (
    ConfigureConsentSettings,
    ConfigureFallback,
    ConfigureOptOutMention,
    ConfigureQueue,
    ConfigureRouting,
    ConfigureSendingLimits,
    LiftDestinationBlock,
    SetAgentCapacity,
)


class SendMessage(Command):
    """Send to an address; the conversation is found or opened for it.

    ``rich`` is RCS content (suggestions, cards); it falls back to SMS rendered as text
    with numbered choices. A body is needed unless rich content is given (its SMS
    rendering is then the body).
    """

    type: Literal["SendMessage"] = "SendMessage"
    brand_id: UUID
    to: Address
    body: Text | None = None
    channel: Channel | None = None
    rich: RichContent | None = None
    # How long RCS may wait for DELIVERED before the SMS fallback (the brand's default
    # when absent).
    fallback_after_seconds: int | None = None
    # Why it is sent: consent and quiet hours depend on it. Records that predate it (a
    # brand's systems on the commands topic) were sends of the purpose that asks for no
    # consent, service.
    purpose: Purpose = Purpose.SERVICE
    # Marketing held by quiet hours is blocked (quiet_hours_past_deadline) rather than sent
    # after this.
    not_after: AwareDatetime | None = None
    # A campaign's send: its message's id is derived from the campaign and the recipient
    # (``ids.campaign_message_id``), so a repeat is recognised and decided once.
    message_id: UUID | None = None
    campaign_id: UUID | None = None

    @model_validator(mode="after")
    def _body_or_rich(self) -> SendMessage:
        if self.body is None and self.rich is None:
            raise ValueError("body: required unless rich content is given")
        return self


class Reply(Command):
    """Answer in a conversation, on the channel the contact last wrote from by default."""

    type: Literal["Reply"] = "Reply"
    brand_id: UUID
    conversation_id: UUID
    body: Text
    channel: Channel | None = None
    # An answer to what the contact wrote; a brand sending a service notice or marketing
    # in the conversation says so.
    purpose: Purpose = Purpose.CONVERSATIONAL
    author: str | None = None  # the agent who wrote it (``Conversation.ReplyAuthored``)


class ReceiveMessage(Command):
    """An inbound message, as a channel adapter normalised it."""

    type: Literal["ReceiveMessage"] = "ReceiveMessage"
    provider: Name
    provider_message_id: Annotated[str, Field(min_length=1, max_length=256)]
    channel: Channel
    sender: Annotated[str, Field(min_length=1, max_length=320)]
    recipient: Annotated[str, Field(min_length=1, max_length=320)]
    body: ReceivedText
    # What the channel could tell of the thread (an email's signed reply address, its
    # In-Reply-To): used only when the sender is that conversation's own contact.
    conversation_hint: UUID | None = None
    replies_to: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=20
    )
    # An RCS suggestion tapped: the brand's postback data, sent back verbatim.
    postback_data: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    # An email's subject and attached files (described, not kept).
    subject: Annotated[str, Field(max_length=998)] | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    # Sent by a machine on the consumer's behalf (an out-of-office, an auto-reply): recorded,
    # but it asks nobody for an answer.
    automatic: bool = False
    # The sandbox alone: the brand whose API key played the consumer. Its provider ids are
    # unique within that brand only (domain.index.inbound_key), and the message must be
    # for that brand. Real providers leave it out: their ids are unique across brands.
    brand_id: UUID | None = None


class RecordSent(Command):
    """The provider accepted the message; a long SMS lists the id of every segment."""

    type: Literal["RecordSent"] = "RecordSent"
    conversation_id: UUID
    message_id: UUID
    provider: Name
    provider_message_id: Annotated[str, Field(min_length=1, max_length=256)]
    segment_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=255
    )
    # How long the message waits for its delivery receipt before it is expired; None: a
    # channel without receipts (email), where sent is final.
    receipt_within_seconds: Annotated[int, Field(ge=1)] | None = None


class RecordSendFailure(Command):
    """The provider refused the message for good when it was handed over."""

    type: Literal["RecordSendFailure"] = "RecordSendFailure"
    conversation_id: UUID
    message_id: UUID
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class RecordReceipt(Command):
    """A delivery receipt, matched to the message by the provider's id."""

    type: Literal["RecordReceipt"] = "RecordReceipt"
    provider: Name
    provider_message_id: Annotated[str, Field(min_length=1, max_length=256)]
    status: Literal[MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED]
    reason: Annotated[str, Field(max_length=500)] = ""
    # Other spellings of the id (an SMSC that answers in hex and receipts in decimal),
    # tried in order when the id itself is unknown.
    alternative_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=16)
    ] = Field(default_factory=list)
    # RCS: the consumer opened it (RBM's READ event); a read message was delivered.
    read: bool = False

    @model_validator(mode="after")
    def _read_is_delivered(self) -> RecordReceipt:
        if self.read and self.status is not MessageStatus.DELIVERED:
            raise ValueError("read: a read receipt has status delivered")
        return self


class RecordCapability(Command):
    """A provider said what the contact of this conversation can take (RCS or not)."""

    type: Literal["RecordCapability"] = "RecordCapability"
    conversation_id: UUID
    channel: Literal[Channel.RCS] = Channel.RCS
    capable: bool
    features: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list)


class EnforceFallbackDeadline(Command):
    """The scheduler saw an RCS message's fallback deadline pass: revoke it if undelivered."""

    type: Literal["EnforceFallbackDeadline"] = "EnforceFallbackDeadline"
    conversation_id: UUID
    message_id: UUID
    # An operator's "fall back now" (the demo, a support agent): do not wait for the deadline.
    now: bool = False


class ExpireDialogue(Command):
    """The scheduler saw a bot's question wait past its deadline: time the dialogue out."""

    type: Literal["ExpireDialogue"] = "ExpireDialogue"
    conversation_id: UUID
    # An operator's "time it out now" (the demo, a test): do not wait for the deadline.
    now: bool = False


class EnforceReceiptDeadline(Command):
    """The scheduler saw a sent message's receipt deadline pass: expire it if no receipt
    came."""

    type: Literal["EnforceReceiptDeadline"] = "EnforceReceiptDeadline"
    conversation_id: UUID
    message_id: UUID


class ReleaseDeferredMessage(Command):
    """The scheduler saw a deferred message's release time pass: ask the policy again and
    queue it, defer it again or block it."""

    type: Literal["ReleaseDeferredMessage"] = "ReleaseDeferredMessage"
    conversation_id: UUID
    message_id: UUID


class RecordRevocation(Command):
    """What the RCS provider answered to a revocation."""

    type: Literal["RecordRevocation"] = "RecordRevocation"
    conversation_id: UUID
    message_id: UUID
    result: Literal["revoked", "already_delivered", "failed"]
    reason: Annotated[str, Field(max_length=500)] = ""


class AssignConversation(Command):
    type: Literal["AssignConversation"] = "AssignConversation"
    brand_id: UUID
    conversation_id: UUID
    agent: Annotated[PlainText, Field(max_length=128)] | None = None
    team: Annotated[PlainText, Field(max_length=128)] | None = None


class TagConversation(Command):
    type: Literal["TagConversation"] = "TagConversation"
    brand_id: UUID
    conversation_id: UUID
    add: list[Tag] = Field(default_factory=list, max_length=50)
    remove: list[Tag] = Field(default_factory=list, max_length=50)


class ResolveConversation(Command):
    type: Literal["ResolveConversation"] = "ResolveConversation"
    brand_id: UUID
    conversation_id: UUID
    by: Annotated[PlainText, Field(max_length=128)] = "api"


class StartFlow(Command):
    """Starts the latest published version of a brand's flow in a conversation."""

    type: Literal["StartFlow"] = "StartFlow"
    brand_id: UUID
    conversation_id: UUID
    flow: Annotated[str, Field(min_length=1, max_length=64)]


class ReopenConversation(Command):
    type: Literal["ReopenConversation"] = "ReopenConversation"
    brand_id: UUID
    conversation_id: UUID
    reason: Annotated[PlainText, Field(max_length=256)] = "reopened by an agent"


class AddContactAddress(Command):
    type: Literal["AddContactAddress"] = "AddContactAddress"
    brand_id: UUID
    contact_id: UUID
    address: Address


class ClaimConversation(Command):
    """An agent takes a conversation from the queue (refused if another agent has it)."""

    type: Literal["ClaimConversation"] = "ClaimConversation"
    brand_id: UUID
    conversation_id: UUID
    agent: Name
    # "Next for me": refused (409) when the agent already holds their capacity, decided on
    # the agent's desk so that two processes taking at once cannot both pass.
    within_capacity: bool = False


class PrioritizeConversation(Command):
    type: Literal["PrioritizeConversation"] = "PrioritizeConversation"
    brand_id: UUID
    conversation_id: UUID
    priority: int


class UpdateContact(Command):
    """An agent (or a bot flow) records a name or attributes; a None value clears one."""

    type: Literal["UpdateContact"] = "UpdateContact"
    brand_id: UUID
    contact_id: UUID
    name: Annotated[PlainText, Field(max_length=128)] | None = None
    attributes: dict[Annotated[PlainText, Field(max_length=64)], PlainText | None] = Field(
        default_factory=dict, max_length=50
    )


AnyCommand = (
    SendMessage
    | Reply
    | ReceiveMessage
    | RecordSent
    | RecordSendFailure
    | RecordReceipt
    | AssignConversation
    | TagConversation
    | ResolveConversation
    | ReopenConversation
    | AddContactAddress
    | ClaimConversation
    | PrioritizeConversation
    | UpdateContact
    | ConfigureQueue
    | SetAgentCapacity
    | RecordCapability
    | EnforceFallbackDeadline
    | EnforceReceiptDeadline
    | RecordRevocation
    | ConfigureFallback
    | GrantConsent
    | RevokeConsent
    | ReleaseDeferredMessage
    | ConfigureOptOutMention
    | ConfigureConsentSettings
    | StartFlow
    | ExpireDialogue
    | ConfigureSendingLimits
    | ConfigureRouting
    | LiftDestinationBlock
)

__all__ = [
    "AddContactAddress",
    "Address",
    "AnyCommand",
    "AssignConversation",
    "ChangeCampaign",
    "ChangeConsent",
    "ClaimConversation",
    "Command",
    "ConfigureConsentSettings",
    "ConfigureFallback",
    "ConfigureOptOutMention",
    "ConfigureQueue",
    "ConfigureRouting",
    "ConfigureSendingLimits",
    "CreateCampaign",
    "EnforceFallbackDeadline",
    "EnforceReceiptDeadline",
    "ExpireDialogue",
    "GrantConsent",
    "ImportCampaignAudience",
    "LiftDestinationBlock",
    "Name",
    "Outcome",
    "PrioritizeConversation",
    "ReceiveMessage",
    "ReceivedText",
    "RecordCampaignBatch",
    "RecordCapability",
    "RecordReceipt",
    "RecordRevocation",
    "RecordSendFailure",
    "RecordSent",
    "ReleaseDeferredMessage",
    "ReopenConversation",
    "Reply",
    "ResolveConversation",
    "RevokeConsent",
    "ScheduleCampaign",
    "SendMessage",
    "SetAgentCapacity",
    "StartCampaign",
    "StartFlow",
    "Tag",
    "TagConversation",
    "Text",
    "Unsubscribe",
    "UpdateContact",
]
