"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from chainon.domain.attachments import Attachment
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.message import Fallback, Message
from chainon.domain.plain_text import PlainText
from chainon.projections.crm_profile import Profile

Body = Annotated[PlainText, Field(max_length=200_000, description="The message text.")]
Address = Annotated[PlainText, Field(min_length=1, max_length=320)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplyIn(Strict):
    body: Body
    channel: Channel | None = None
    purpose: Purpose = Field(
        Purpose.CONVERSATIONAL,
        description="`conversational` (the default: an answer to what the contact wrote), "
        "`service` or `marketing`.",
    )


class AssignIn(Strict):
    agent: Annotated[PlainText, Field(max_length=128)] | None = None
    team: Annotated[PlainText, Field(max_length=128)] | None = None


class TagsIn(Strict):
    add: list[Annotated[PlainText, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    remove: list[Annotated[PlainText, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class ResolveIn(Strict):
    by: Annotated[PlainText, Field(min_length=1, max_length=128)] = "api"


class FlowIn(Strict):
    flow: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]


class ReopenIn(Strict):
    reason: Annotated[PlainText, Field(min_length=1, max_length=256)] = "reopened by an agent"


class AddressIn(Strict):
    address: Address


class SandboxInboundIn(Strict):
    sender: Annotated[PlainText, Field(alias="from", min_length=1, max_length=320)]
    to: Address
    body: Body
    channel: Channel = Channel.SMS
    provider_message_id: Annotated[PlainText, Field(min_length=1, max_length=256)] | None = None
    postback_data: Annotated[str, Field(min_length=1, max_length=2048)] | None = Field(
        None, description="RCS: the consumer tapped a suggestion that carried this postback."
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Accepted(BaseModel):
    """What a write did; ``position`` lets a read wait until the views have caught up."""

    conversation_id: UUID | None = None
    contact_id: UUID | None = None
    message_id: UUID | None = None
    channel: Channel | None = None
    status: str | None = Field(
        None, description="A send's: `queued`, `deferred` (quiet hours) or `blocked`."
    )
    reason: str | None = Field(
        None,
        description="Why a send was blocked: `opted_out`, `opted_out_of_service`, "
        "`no_marketing_consent`, `quiet_hours_past_deadline`, `not_conversational`.",
    )
    release_at: datetime | None = Field(
        None, description="When a deferred send goes, its recipient's quiet hours over."
    )
    segments: int | None = Field(None, description="A send's SMS segments, as it goes.")
    segments_before_mention: int | None = Field(
        None,
        description="A marketing SMS Chainon appended the opt-out mention to: its segments "
        "before (`segments` counts them after).",
    )
    cost: Decimal | None = Field(
        None,
        description="What a send that goes (queued or deferred) costs at the analytics' "
        "prices (a decimal string): its segments on SMS, one message elsewhere; null when "
        "blocked or unpriced.",
    )
    cost_before_mention: Decimal | None = Field(
        None, description="Its cost before Chainon appended the opt-out mention."
    )
    currency: str | None = Field(None, description="Of `cost`, when there is one.")
    changed: bool = True
    duplicate: bool = False
    position: int | None = None


class StatusChange(BaseModel):
    status: str
    at: datetime


class MessageOut(BaseModel):
    id: UUID
    direction: str
    channel: Channel
    sender: str
    recipient: str
    body: str
    status: str
    reason: str | None
    segments: int
    encoding: str | None
    smart_encoded: list[str] = Field(
        description="Characters smart encoding replaced (only when it saved segments)."
    )
    provider_message_id: str | None
    at: datetime
    history: list[StatusChange]
    purpose: Purpose | None = Field(
        None, description="Outbound: `conversational`, `service` or `marketing`."
    )
    campaign_id: UUID | None = Field(None, description="Outbound: the campaign that sent it.")
    rich: dict[str, Any] | None = Field(None, description="RCS rich content, as sent.")
    fallback_of: UUID | None = Field(None, description="The RCS message this SMS replaced.")
    fallback: FallbackOut | None = Field(
        None, description="An RCS message's fallback plan and what became of it."
    )
    read_at: datetime | None = Field(
        None, description="RCS: when the consumer opened it (its read receipt)."
    )
    subject: str | None = Field(None, description="An inbound email's subject.")
    attachments: list[Attachment] = Field(
        default_factory=list,
        description="Inbound: the files that came with it, described (their bytes are not kept).",
    )
    automatic: bool = Field(
        False,
        description="Inbound: sent by a machine (an out-of-office, an auto-reply), not a person: "
        "it does not start the first-response clock and must not be answered automatically.",
    )

    author: str | None = Field(
        None, description="Outbound: the agent who wrote it, when an agent's key replied."
    )

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            id=m.id,
            direction=m.direction.value,
            channel=m.channel,
            sender=m.sender,
            recipient=m.recipient,
            body=m.body,
            status=m.status.value,
            reason=m.reason,
            segments=m.segments,
            encoding=m.encoding,
            smart_encoded=list(m.replaced),
            provider_message_id=m.provider_message_id,
            at=m.at,
            history=[StatusChange(status=s.value, at=at) for s, at in m.history],
            purpose=m.purpose,
            campaign_id=m.campaign_id,
            rich=m.rich,
            fallback_of=m.fallback_of,
            fallback=FallbackOut.of(m.fallback) if m.fallback is not None else None,
            read_at=m.read_at,
            subject=m.subject,
            attachments=list(m.attachments),
            automatic=m.automatic,
            author=m.author,
        )


class FallbackOut(BaseModel):
    channel: Channel
    deadline: datetime
    state: str = Field(description="planned, revoking, triggered or settled")
    reason: str | None = Field(None, description="not_capable, failed or deadline, once triggered")
    replacement_id: UUID | None = None

    @classmethod
    def of(cls, plan: Fallback) -> FallbackOut:
        return cls(
            channel=plan.channel,
            deadline=plan.deadline,
            state=plan.state.value,
            reason=plan.reason.value if plan.reason is not None else None,
            replacement_id=plan.replacement_id,
        )


class HandoffOut(BaseModel):
    """What a bot handed a person: the flow, the team and priority, and its summary."""

    flow: str
    team: str
    priority: str
    reason: str
    summary: str
    answers: dict[str, str]
    at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    detail: dict[str, Any]
    version: int = Field(description="The fact's place in the conversation's history (1: opened).")


class ConversationOut(BaseModel):
    id: UUID
    contact_id: UUID
    number: int
    status: Literal["open", "resolved"]
    agent: str | None
    team: str | None
    tags: list[str]
    opened_at: datetime
    last_activity_at: datetime
    messages: list[MessageOut] = Field(
        description="A page of them (`limit`), newest first unless `order=oldest`."
    )
    timeline: list[TimelineEntry] = Field(
        description="A page of the recorded facts, in the same order."
    )
    message_count: int = Field(0, description="Messages in the whole conversation.")
    next_cursor: str | None = Field(
        None,
        description="Pass it back as `cursor` for the next page of both; null on the last page.",
    )
    handoff: HandoffOut | None = None  # the bot's last hand-off, with what it collected
    csat: int | None = Field(
        None, description="The latest satisfaction rating (1 to 5) a flow collected here."
    )

    @classmethod
    def of(
        cls,
        c: Conversation,
        messages: list[MessageOut],
        timeline: list[TimelineEntry],
        handoff: HandoffOut | None = None,
    ) -> ConversationOut:
        return cls(
            id=c.id,
            contact_id=c.contact_id,
            number=c.number,
            status="resolved" if c.resolved else "open",
            agent=c.agent,
            team=c.team,
            tags=sorted(c.tags),
            opened_at=c.created_on,
            last_activity_at=c.last_activity_at,
            messages=messages,
            timeline=timeline,
            message_count=len(c.order),
            handoff=handoff,
        )


class ConversationSummaryOut(BaseModel):
    id: UUID
    contact_id: UUID
    number: int
    status: str
    agent: str | None
    team: str | None
    tags: list[str]
    opened_at: datetime
    last_activity_at: datetime
    last_direction: str | None
    last_channel: str | None
    message_count: int


class ConversationPage(BaseModel):
    items: list[ConversationSummaryOut]
    next_cursor: str | None = Field(
        description="Pass it back as `cursor` for the next page; null on the last page."
    )
    position: int = Field(description="The write position this list reflects.")
    caught_up: bool | None = Field(
        None, description="With min_position: whether the list reached it before the wait ended."
    )


class AddressOut(BaseModel):
    kind: str
    value: str


class ContactOut(BaseModel):
    id: UUID
    addresses: list[AddressOut]
    last_channel: Channel | None
    conversations: list[UUID]
    current_conversation_id: UUID | None
    erased: bool = Field(
        False, description='Its personal data was erased: its addresses read "erased".'
    )

    @classmethod
    def of(cls, c: Contact, conversations: list[UUID]) -> ContactOut:
        return cls(
            id=c.id,
            addresses=[AddressOut(kind=a.kind.value, value=a.value) for a in c.addresses],
            last_channel=c.last_channel,
            conversations=conversations,
            current_conversation_id=c.current_conversation_id,
            erased=c.erased,
        )


class ContactPatch(Strict):
    name: Annotated[PlainText, Field(max_length=128)] | None = None
    attributes: dict[Annotated[PlainText, Field(max_length=64)], PlainText | None] = Field(
        default_factory=dict, max_length=50
    )


class ProfileOut(BaseModel):
    contact_id: UUID
    name: str | None
    first_seen_at: datetime
    last_seen_at: datetime | None
    last_channel: str | None
    last_agent: str | None
    rcs_capable: bool | None
    marketing_consent: bool | None = Field(
        description="The contact's last word on marketing, whatever channel it concerned "
        "(null: never said)."
    )
    service_consent: bool | None = Field(description="The same for service messages.")
    csat_average: float | None = Field(
        description="The mean of the CSAT ratings (1 to 5) flows collected in the contact's "
        "conversations (null: none yet)."
    )
    csat_count: int = Field(description="How many ratings the average is of.")
    conversation_count: int
    addresses: list[AddressOut]
    messages: list[dict[str, Any]]
    tags: list[str]
    attributes: dict[str, str]

    @classmethod
    def of(cls, p: Profile) -> ProfileOut:
        return cls(
            contact_id=UUID(p.contact_id),
            name=p.name,
            first_seen_at=datetime.fromisoformat(p.first_seen_at),
            last_seen_at=datetime.fromisoformat(p.last_seen_at) if p.last_seen_at else None,
            last_channel=p.last_channel,
            last_agent=p.last_agent,
            rcs_capable=p.rcs_capable,
            marketing_consent=p.marketing_consent,
            service_consent=p.service_consent,
            csat_average=p.csat_average,
            csat_count=p.csat_count,
            conversation_count=p.conversation_count,
            addresses=[AddressOut(kind=a["kind"], value=a["value"]) for a in p.addresses],
            messages=p.messages,
            tags=p.tags,
            attributes=p.attributes,
        )


class ProfilePage(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None = Field(
        description="Pass it back as `cursor` for the next page; null on the last page."
    )
    position: int
    caught_up: bool | None = None
