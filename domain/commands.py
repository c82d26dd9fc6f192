"""Commands: what a brand's systems, agents and channel adapters ask the core to do.

Each is a versioned pydantic model with a ``type``, so that the same shapes travel over
the HTTP API and, later, the Kafka commands topic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from chainon.domain.attachments import MAX_ATTACHMENTS, Attachment
from chainon.domain.channels import Channel
from chainon.domain.consent import MAX_EVIDENCE_TEXT, EvidenceSource, Purpose
from chainon.domain.consent_settings import ConsentSettings
from chainon.domain.message_status import MessageStatus
from chainon.domain.plain_text import PlainText
from chainon.domain.rich_content import RichContent
from chainon.domain.routing_rules import RoutingRules
from chainon.domain.sending_limits import SendingLimits

Text = Annotated[PlainText, Field(max_length=200_000)]
# What a consumer wrote, as the provider gave it: kept as it came (see domain/plain_text.py).
ReceivedText = Annotated[str, Field(max_length=200_000)]
Name = Annotated[PlainText, Field(min_length=1, max_length=128)]
Address = Annotated[PlainText, Field(min_length=1, max_length=320)]
Tag = Annotated[PlainText, Field(max_length=64)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[1] = 1
    # Traces a request through the core into the logs of every worker that handles it;
    # metadata, so it is left out of idempotency fingerprints.
    request_id: Annotated[str, Field(max_length=64)] | None = None
    # Set by a brand's systems on the commands topic: a redelivered command with the same
    # id changes nothing.
    command_id: UUID | None = None


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
    ] = []
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


class ConfigureFallback(Command):
    type: Literal["ConfigureFallback"] = "ConfigureFallback"
    brand_id: UUID
    after_seconds: int


class ConfigureOptOutMention(Command):
    type: Literal["ConfigureOptOutMention"] = "ConfigureOptOutMention"
    brand_id: UUID
    append: bool


class ConfigureConsentSettings(Command):
    """The brand's whole consent-settings document; ``actor`` is who set it (an API key
    id, ``cli:<user>``), kept as the evidence of a quiet-hours override."""

    type: Literal["ConfigureConsentSettings"] = "ConfigureConsentSettings"
    brand_id: UUID
    settings: ConsentSettings
    actor: Annotated[str, Field(max_length=200)] = ""


class ConfigureSendingLimits(Command):
    """The brand's whole sending-limits document (``domain.sending_limits``)."""

    type: Literal["ConfigureSendingLimits"] = "ConfigureSendingLimits"
    brand_id: UUID
    limits: SendingLimits
    actor: Annotated[str, Field(max_length=200)] = ""


class ConfigureRouting(Command):
    """The brand's whole routing document (``domain.routing_rules``)."""

    type: Literal["ConfigureRouting"] = "ConfigureRouting"
    brand_id: UUID
    rules: RoutingRules
    actor: Annotated[str, Field(max_length=200)] = ""


class LiftDestinationBlock(Command):
    """An admin lets sends to a prefix the pumping guard blocked go again."""

    type: Literal["LiftDestinationBlock"] = "LiftDestinationBlock"
    brand_id: UUID
    prefix: Annotated[str, Field(min_length=2, max_length=16)]
    actor: Annotated[str, Field(max_length=200)] = ""


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


class ConfigureQueue(Command):
    type: Literal["ConfigureQueue"] = "ConfigureQueue"
    brand_id: UUID
    first_response_minutes: int


class SetAgentCapacity(Command):
    type: Literal["SetAgentCapacity"] = "SetAgentCapacity"
    brand_id: UUID
    agent: Name
    capacity: int


class ChangeConsent(Command):
    """A brand records a contact's opt-in or opt-out it learnt itself (its web form, a call
    to its support, its API), with the evidence that it happened."""

    brand_id: UUID
    contact_id: UUID
    purpose: Literal[Purpose.MARKETING, Purpose.SERVICE]
    # None: every channel of the brand; a channel when the evidence is for that one only.
    channel: Channel | None = None
    source: EvidenceSource = EvidenceSource.API
    text: Annotated[str, Field(max_length=MAX_EVIDENCE_TEXT)] = ""  # the raw request or words
    actor: Annotated[str, Field(max_length=128)] = ""  # the API key id, the agent, the file


class GrantConsent(ChangeConsent):
    type: Literal["GrantConsent"] = "GrantConsent"


class RevokeConsent(ChangeConsent):
    type: Literal["RevokeConsent"] = "RevokeConsent"


class Unsubscribe(Command):
    """A contact used the unsubscribe link of a brand's email (RFC 8058 one-click); its
    signed token named the brand, the address and the purpose. Not a brand's command: the
    HTTP route that checked the token sends it, never the commands topic."""

    type: Literal["Unsubscribe"] = "Unsubscribe"
    brand_id: UUID
    address: Address
    purpose: Literal[Purpose.MARKETING, Purpose.SERVICE] = Purpose.MARKETING
    text: Annotated[str, Field(max_length=MAX_EVIDENCE_TEXT)] = ""  # the raw request


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


class CreateCampaign(Command):
    """A campaign drafted: its template, defaults, channel, pace and audience kind."""

    type: Literal["CreateCampaign"] = "CreateCampaign"
    brand_id: UUID
    campaign_id: UUID
    name: Name
    template: Annotated[str, Field(min_length=1, max_length=2000)]
    defaults: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]]
    channel: Channel = Channel.SMS
    rate_per_second: int
    audience: Literal["csv", "filter"]
    tags: list[Tag] = Field(default_factory=list)
    attributes: dict[
        Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]
    ] = Field(default_factory=dict)
    filter_channel: Channel | None = None
    # purpose:state[:channel] (``domain.consent.ConsentCriterion``); older records: none.
    filter_consent: Annotated[str, Field(max_length=40)] | None = None
    not_after: AwareDatetime | None = None


class ImportCampaignAudience(Command):
    """An uploaded CSV's good rows were stored beside the campaign."""

    type: Literal["ImportCampaignAudience"] = "ImportCampaignAudience"
    brand_id: UUID
    campaign_id: UUID
    recipients: int
    rejected: int


class ScheduleCampaign(Command):
    type: Literal["ScheduleCampaign"] = "ScheduleCampaign"
    brand_id: UUID
    campaign_id: UUID
    start_at: AwareDatetime | None = None  # now, when absent


class ChangeCampaign(Command):
    """Pause, resume or cancel."""

    type: Literal["ChangeCampaign"] = "ChangeCampaign"
    brand_id: UUID
    campaign_id: UUID
    change: Literal["pause", "resume", "cancel"]


class StartCampaign(Command):
    """The worker fixed the audience (``recipients``) and begins."""

    type: Literal["StartCampaign"] = "StartCampaign"
    campaign_id: UUID
    recipients: int


class RecordCampaignBatch(Command):
    """Recipients ``start`` to ``upto`` (exclusive) were decided: saved with their sends."""

    type: Literal["RecordCampaignBatch"] = "RecordCampaignBatch"
    campaign_id: UUID
    start: int
    upto: int
    refused: int = 0  # recipients whose text could not be personalised


class Outcome(BaseModel):
    """What a command did: the ids it touched, and whether it changed anything."""

    model_config = ConfigDict(frozen=True)
    changed: bool = True
    duplicate: bool = False
    refused: str | None = None
    kept: bool = False  # a receipt that came before its send, kept until the send is recorded
    brand_id: UUID | None = None
    conversation_id: UUID | None = None
    contact_id: UUID | None = None
    message_id: UUID | None = None
    channel: Channel | None = None
    status: MessageStatus | None = None  # an outbound message's status after the command
    reason: str | None = None  # a blocked send's (the send policy's) reason
    release_at: datetime | None = None  # a deferred send's release time
    segments: int | None = None  # an outbound message's, as it goes
    segments_before_mention: int | None = None  # a marketing SMS the mention was appended to
    read: bool = False  # a read receipt marked the message read (RCS)
    position: int | None = None  # notification id of the last event recorded
