"""A deferred message's release: the scheduler hands it on when its time came, and the
policy is asked again, so an opt-out while it waited blocks it."""

from __future__ import annotations

from datetime import datetime, timedelta

from chainon.domain import commands as cmd
from chainon.domain.addresses import Address
from chainon.domain.brand import Brand
from chainon.domain.channels import CHANNEL_ADDRESS_KIND
from chainon.domain.consent import Purpose
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import desk_holder
from chainon.domain.held_messages import due_for_release
from chainon.domain.message_body import PreparedBody
from chainon.domain.rich_content import RichContent
from chainon.domain.send_policy import Verdict
from chainon.domain.sms_encoding import Encoding
from chainon.handlers.agents import keep_desks
from chainon.handlers.loading import Handled, Loader, get, outcome_of
from chainon.handlers.outbound import Queued, queue
from chainon.handlers.policy import ask, hold, outgoing


def release(loader: Loader, command: cmd.ReleaseDeferredMessage, now: datetime) -> Handled:
    conversation = get(loader, Conversation, command.conversation_id)
    message = conversation.message(command.message_id)
    held = due_for_release(message, now)
    if held is None:
        # Nothing to do: a message still deferred stays in the scheduler's table and
        # comes again.
        return outcome_of(conversation, False, message_id=message.id, status=message.status), []
    brand = get(loader, Brand, conversation.brand_id)
    contact = get(loader, Contact, conversation.contact_id)
    address = Address(CHANNEL_ADDRESS_KIND[message.channel], message.recipient)
    purpose = message.purpose or Purpose.SERVICE
    decision = ask(
        loader,
        brand,
        conversation,
        contact,
        purpose,
        message.channel,
        address,
        now,
        not_after=held.not_after,
    )
    after = held.fallback_after_seconds
    fallback_after = timedelta(seconds=after) if after is not None else None
    if decision.verdict is not Verdict.ALLOWED:
        body = PreparedBody(
            message.body,
            Encoding(message.encoding) if message.encoding else None,
            message.segments,
            message.replaced,
        )
        content = outgoing(
            message.id,
            message.channel,
            message.sender,
            address,
            body,
            purpose,
            rich=message.rich,
            campaign_id=message.campaign_id,
        )
        return hold(
            conversation,
            content,
            decision,
            now,
            not_after=held.not_after,
            fallback_after=fallback_after,
        ), [conversation]
    holder = desk_holder(conversation)
    rich = RichContent.model_validate(message.rich) if message.rich else None
    going = Queued(
        message.channel,
        address,
        message.body,
        rich,
        message.id,
        fallback_after=fallback_after,
        purpose=purpose,
        campaign_id=message.campaign_id,
    )
    outcome = queue(brand, conversation, contact, going, now, reopen=True, request=command)
    return outcome, [conversation, contact, *keep_desks(loader, conversation, holder, now)]
