"""The send policy, asked in the same decision that queues a message: its question put
from what the core holds (the contact's consent ledger, the number's quiet hours, whether
the contact wrote within the brand's reopen window), and its answers other than "allowed"
recorded on the conversation (``MessageDeferred``, ``MessageBlocked``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from chainon.destination_guard import DestinationGuard
from chainon.domain import commands as cmd
from chainon.domain.addresses import Address, country_of_recipient
from chainon.domain.brand import Brand
from chainon.domain.channels import AddressKind, Channel
from chainon.domain.consent import Purpose
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import contact_wrote_since
from chainon.domain.destination_blocks import DestinationBlocks
from chainon.domain.errors import InvalidInput
from chainon.domain.marketing_rules import country_of_number, has_mention, mention_of
from chainon.domain.message import Hold, Outgoing
from chainon.domain.message_body import PreparedBody, prepare_body
from chainon.domain.message_status import MessageStatus
from chainon.domain.quiet_hours import QuietHoursPolicy, Recipient, recipient_of
from chainon.domain.send_policy import BlockReason, SendDecision, Verdict, decide
from chainon.handlers.consent import ledger_of
from chainon.handlers.loading import Loader


def ask(
    loader: Loader,
    brand: Brand,
    conversation: Conversation,
    contact: Contact,
    purpose: Purpose,
    channel: Channel,
    address: Address,
    now: datetime,
    *,
    not_after: datetime | None = None,
) -> SendDecision:
    window = timedelta(hours=brand.reopen_window_hours)
    recipient = recipient_of(address.value) if address.kind is AddressKind.PHONE else None
    decision = decide(
        purpose,
        channel,
        ledger_of(loader, brand.id, contact.id),
        at=now,
        recipient=recipient,
        quiet_hours=quiet_hours_of(brand, recipient),
        not_after=not_after,
        contact_wrote_recently=contact_wrote_since(conversation, now - window),
    )
    guard: DestinationGuard | None = getattr(loader, "destination_guard", None)
    if (
        decision.verdict is not Verdict.ALLOWED
        or guard is None
        or purpose is Purpose.CONVERSATIONAL
    ):
        return decision  # a reply to a consumer who just wrote is not pumped
    blocks = lambda found: loader.find(DestinationBlocks, found)  # noqa: E731
    if guard.allows(blocks, brand, channel, address.value, now):
        return decision
    return SendDecision.blocked(BlockReason.DESTINATION_CAP)


def quiet_hours_of(brand: Brand, recipient: Recipient | None) -> QuietHoursPolicy | None:
    """The brand's own window for the recipient's country, when it narrowed it."""
    if recipient is None:
        return None
    return brand.consent_rules.quiet_hours_for(recipient.policy.country)


@dataclass(frozen=True)
class Marked:
    text: str
    segments_before: int | None = None  # set when the mention was appended


def with_opt_out_mention(
    brand: Brand, purpose: Purpose, channel: Channel, address: Address, text: str
) -> Marked:
    """A marketing SMS carries its country's opt-out mention, or the brand lets Chainon
    append it (segments then counted after appending); otherwise the send is refused,
    naming the rule. Other purposes, channels and countries pass as they are."""
    if purpose is not Purpose.MARKETING or channel is not Channel.SMS:
        return Marked(text)
    country = country_of_number(address.value)
    if country is None or has_mention(text, country):
        return Marked(text)
    mention = mention_of(country, brand.sender_for(Channel.SMS) or "")
    if not brand.appends_opt_out_mention:
        raise InvalidInput(
            f"a marketing SMS to {country.value} must carry its opt-out mention "
            f"(e.g. {mention!r}), or the brand lets Chainon append it "
            "(PUT /v1/consent/settings)",
            field="body",
        )
    before = prepare_body(text, channel, smart_encoding=brand.smart_encoding).segments
    return Marked(f"{text.rstrip()} {mention}", before)


def check_list_unsubscribe(loader: Loader, purpose: Purpose, channel: Channel) -> None:
    """A marketing email carries List-Unsubscribe (RFC 2369, RFC 8058), which the email
    adapter signs with the deployment's unsubscribe links; a deployment that has none is
    told so now, naming the rule, rather than by a message failed at the relay."""
    if purpose is Purpose.MARKETING and channel is Channel.EMAIL and not loader.list_unsubscribe:
        raise InvalidInput(
            "a marketing email must carry List-Unsubscribe (RFC 8058), and this deployment "
            "signs no unsubscribe link: set CHAINON_PUBLIC_URL (with Kafka, also "
            "CHAINON_UNSUBSCRIBE_SECRET)",
            field="purpose",
        )


def hold(
    conversation: Conversation,
    content: Outgoing,
    decision: SendDecision,
    now: datetime,
    *,
    not_after: datetime | None = None,
    fallback_after: timedelta | None = None,
) -> cmd.Outcome:
    """Records a send the policy did not allow now: deferred to its release, or blocked."""
    if decision.verdict is Verdict.DEFERRED:
        assert decision.release_at is not None
        seconds = int(fallback_after.total_seconds()) if fallback_after is not None else None
        conversation.defer(content, Hold(decision.release_at, not_after, seconds), at=now)
        status = MessageStatus.DEFERRED
    else:
        assert decision.reason is not None
        conversation.block(content, decision.reason.value, at=now)
        status = MessageStatus.BLOCKED
    return cmd.Outcome(
        brand_id=conversation.brand_id,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        message_id=content.message_id,
        channel=content.channel,
        status=status,
        reason=decision.reason.value if decision.reason else None,
        release_at=decision.release_at,
        segments=content.segments,
        country=country_of_recipient(content.recipient),
    )


def outgoing(
    message_id: UUID,
    channel: Channel,
    sender: str,
    address: Address,
    body: PreparedBody,
    purpose: Purpose,
    *,
    request_id: str | None = None,
    rich: dict[str, object] | None = None,
    campaign_id: UUID | None = None,
) -> Outgoing:
    return Outgoing(
        message_id=message_id,
        channel=channel,
        sender=sender,
        recipient=address.value,
        body=body.text,
        encoding=body.encoding.value if body.encoding else None,
        segments=body.segments,
        replaced=body.replaced,
        purpose=purpose,
        request_id=request_id,
        rich=rich,
        campaign_id=campaign_id,
    )
