"""Outbound: a brand's send to an address, an agent's reply in a conversation, and the
step both share, queuing the message on its channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from chainon.domain import commands as cmd
from chainon.domain.addresses import Address, country_of_recipient, parse_address
from chainon.domain.brand import Brand, check_fallback_seconds
from chainon.domain.channel_choice import (
    capability_known,
    fallback_text,
    known_not_capable,
    pick_channel,
    reply_channel,
    sender_on,
    wording,
)
from chainon.domain.channels import CHANNEL_ADDRESS_KIND, Channel
from chainon.domain.consent import Purpose
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import desk_holder
from chainon.domain.errors import InvalidInput, TransitionRefused
from chainon.domain.message import FallbackReason
from chainon.domain.message_body import prepare_body
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import RichContent, render_sms
from chainon.domain.send_policy import SendDecision, Verdict
from chainon.handlers.agents import keep_desks
from chainon.handlers.contacts import contact_for, current_conversation
from chainon.handlers.loading import Handled, Loader, conversation_of, get
from chainon.handlers.policy import (
    Marked,
    ask,
    check_list_unsubscribe,
    hold,
    outgoing,
    with_opt_out_mention,
)


@dataclass(frozen=True)
class Queued:
    """Where a message goes and what it says."""

    channel: Channel
    address: Address
    text: str
    rich: RichContent | None = None
    message_id: UUID | None = None
    fallback_of: UUID | None = None
    fallback_after: timedelta | None = None
    purpose: Purpose = Purpose.SERVICE
    campaign_id: UUID | None = None


def send(loader: Loader, command: cmd.SendMessage, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    address = parse_address(command.to, default_region=loader.default_region, field="to")
    channel = pick_channel(brand, address.kind, command.channel)
    if command.fallback_after_seconds is not None:
        check_fallback_seconds(command.fallback_after_seconds)
    contact, changed = contact_for(loader, brand.id, address, now)
    conversation = current_conversation(loader, brand, contact, now)
    holder = desk_holder(conversation)
    if command.message_id is not None and command.message_id in conversation.messages:
        # A campaign's message decided before (a worker restarted mid-batch): once only.
        return repeated(brand, conversation, contact, command.message_id), [*changed]
    said = wording(command.body, command.rich, channel)
    check_list_unsubscribe(loader, command.purpose, channel)
    marked = with_opt_out_mention(brand, command.purpose, channel, address, said.text)
    after = command.fallback_after_seconds
    fallback_after = timedelta(seconds=after) if after is not None else None
    decision = ask(
        loader,
        brand,
        conversation,
        contact,
        command.purpose,
        channel,
        address,
        now,
        not_after=command.not_after,
    )
    if decision.verdict is not Verdict.ALLOWED:
        message = Queued(
            channel,
            address,
            marked.text,
            said.rich,
            command.message_id,
            purpose=command.purpose,
            campaign_id=command.campaign_id,
        )
        outcome = held(brand, conversation, message, decision, now, command, fallback_after)
        return mentioned(outcome, marked), [*changed, conversation, contact]
    if known_not_capable(brand, contact, channel, at=now):
        fallback = brand.fallback_channel(channel)
        assert fallback is not None
        replacement = command.message_id or uuid4()
        conversation.fall_back(None, FallbackReason.NOT_CAPABLE, fallback, replacement, at=now)
        sms = fallback_text(said.text, said.rich)
        marked = with_opt_out_mention(brand, command.purpose, fallback, address, sms)
        message = Queued(
            fallback,
            address,
            marked.text,
            None,
            replacement,
            purpose=command.purpose,
            campaign_id=command.campaign_id,
        )
    else:
        message = Queued(
            channel,
            address,
            marked.text,
            said.rich,
            command.message_id,
            fallback_after=fallback_after,
            purpose=command.purpose,
            campaign_id=command.campaign_id,
        )
    outcome = queue(brand, conversation, contact, message, now, reopen=True, request=command)
    desks = keep_desks(loader, conversation, holder, now)
    return mentioned(outcome, marked), [*changed, conversation, contact, *desks]


def reply(loader: Loader, command: cmd.Reply, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    conversation = conversation_of(loader, brand.id, command.conversation_id)
    contact = get(loader, Contact, conversation.contact_id)
    channel = command.channel or reply_channel(brand, contact, conversation)
    address = contact.address_of(CHANNEL_ADDRESS_KIND[channel])
    if address is None:
        raise InvalidInput(f"the contact has no address {channel.value} can reach", field="channel")
    purpose = command.purpose
    check_list_unsubscribe(loader, purpose, channel)
    marked = with_opt_out_mention(brand, purpose, channel, address, command.body)
    message = Queued(channel, address, marked.text, purpose=purpose)
    decision = ask(loader, brand, conversation, contact, purpose, channel, address, now)
    if decision.verdict is not Verdict.ALLOWED:
        if conversation.resolved:  # as a send that would go: reopen it first
            raise TransitionRefused("the conversation is resolved; reopen it first")
        outcome = held(brand, conversation, message, decision, now, command)
        credited(conversation, outcome, command.author, now)
        return mentioned(outcome, marked), [conversation]
    outcome = queue(brand, conversation, contact, message, now, reopen=False, request=command)
    credited(conversation, outcome, command.author, now)
    return mentioned(outcome, marked), [conversation, contact]


def credited(
    conversation: Conversation, outcome: cmd.Outcome, author: str | None, now: datetime
) -> None:
    if author is not None and outcome.message_id is not None:
        conversation.credit(outcome.message_id, author, at=now)


def repeated(
    brand: Brand, conversation: Conversation, contact: Contact, message_id: UUID
) -> cmd.Outcome:
    message = conversation.messages[message_id]
    return cmd.Outcome(
        brand_id=brand.id,
        contact_id=contact.id,
        conversation_id=conversation.id,
        message_id=message_id,
        channel=message.channel,
        status=message.status,
        reason=message.reason,
        segments=message.segments,
        country=country_of_recipient(message.recipient),
        changed=False,
        duplicate=True,
    )


def mentioned(outcome: cmd.Outcome, marked: Marked) -> cmd.Outcome:
    """The answer shows the segments before appending the opt-out mention, when it was."""
    if marked.segments_before is None:
        return outcome
    return outcome.model_copy(update={"segments_before_mention": marked.segments_before})


def held(
    brand: Brand,
    conversation: Conversation,
    message: Queued,
    decision: SendDecision,
    now: datetime,
    request: cmd.Command,
    fallback_after: timedelta | None = None,
) -> cmd.Outcome:
    """A send the policy deferred or blocked: checked as a queued one would be (a body
    that could never go is still a 422), then recorded with the policy's answer."""
    body = prepare_body(message.text, message.channel, smart_encoding=brand.smart_encoding)
    content = outgoing(
        message.message_id or uuid4(),
        message.channel,
        sender_on(brand, message.channel),
        message.address,
        body,
        message.purpose,
        request_id=request.request_id,
        rich=message.rich.model_dump(mode="json", exclude_none=True) if message.rich else None,
        campaign_id=message.campaign_id,
    )
    not_after = request.not_after if isinstance(request, cmd.SendMessage) else None
    return hold(
        conversation, content, decision, now, not_after=not_after, fallback_after=fallback_after
    )


def queue(
    brand: Brand,
    conversation: Conversation,
    contact: Contact,
    message: Queued,
    now: datetime,
    *,
    reopen: bool,
    request: cmd.Command | None,
) -> cmd.Outcome:
    """Queues an outbound message: the body checked and segmented for its channel; an
    RCS message gets its fallback plan when the brand has a channel to fall back to."""
    channel, rich = message.channel, message.rich
    body = prepare_body(message.text, channel, smart_encoding=brand.smart_encoding)
    message_id = message.message_id or uuid4()
    conversation.queue(
        message_id=message_id,
        channel=channel,
        sender=sender_on(brand, channel),
        recipient=message.address.value,
        body=body.text,
        encoding=body.encoding.value if body.encoding else None,
        segments=body.segments,
        replaced=body.replaced,
        at=now,
        reopen=reopen,
        request_id=request.request_id if request is not None else None,
        rich=rich.model_dump(mode="json", exclude_none=True) if rich else None,
        fallback_of=message.fallback_of,
        capability_known=capability_known(contact, channel, at=now),
        purpose=message.purpose,
        campaign_id=message.campaign_id,
    )
    fallback = brand.fallback_channel(channel) if channel is Channel.RCS else None
    if fallback is not None:
        if rich is not None:  # refused now if its SMS rendering could not go
            prepare_body(render_sms(rich), fallback, smart_encoding=brand.smart_encoding)
        deadline = now + (message.fallback_after or brand.fallback_after)
        conversation.plan_fallback(message_id, fallback, deadline)
    contact.reached_on(channel, at=now)
    return cmd.Outcome(
        brand_id=brand.id,
        contact_id=contact.id,
        conversation_id=conversation.id,
        message_id=message_id,
        channel=channel,
        status=MessageStatus.QUEUED,
        segments=body.segments,
        country=country_of_recipient(message.address.value),
    )
