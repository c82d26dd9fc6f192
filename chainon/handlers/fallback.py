"""RCS → fallback: capability answers, deadlines, revocations, and the replacement
message queued on the fallback channel (once, whatever order the triggers come in)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import Address
from chainon.domain.brand import Brand
from chainon.domain.channel_choice import fallback_text
from chainon.domain.channels import CHANNEL_ADDRESS_KIND
from chainon.domain.consent import Purpose
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import desk_holder
from chainon.domain.message import FallbackReason
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import RichContent
from chainon.handlers.agents import keep_desks
from chainon.handlers.loading import Handled, Loader, get, outcome_of
from chainon.handlers.outbound import Queued, queue


def fall_back(
    loader: Loader,
    conversation: Conversation,
    message_id: UUID,
    reason: FallbackReason,
    now: datetime,
) -> list[Aggregate]:
    """Queues the replacement of an RCS message on its fallback channel, once."""
    message = conversation.message(message_id)
    plan = message.fallback
    assert plan is not None
    brand = get(loader, Brand, conversation.brand_id)
    contact = get(loader, Contact, conversation.contact_id)
    held_by = desk_holder(conversation)
    replacement = ids.fallback_message_id(message_id)
    conversation.fall_back(message_id, reason, plan.channel, replacement, at=now)
    rich = RichContent.model_validate(message.rich) if message.rich else None
    address = Address(CHANNEL_ADDRESS_KIND[plan.channel], message.recipient)
    text = fallback_text(message.body, rich)
    replacing = Queued(
        plan.channel,
        address,
        text,
        message_id=replacement,
        fallback_of=message_id,
        purpose=message.purpose or Purpose.SERVICE,
    )
    queue(brand, conversation, contact, replacing, now, reopen=True, request=None)
    return [conversation, contact, *keep_desks(loader, conversation, held_by, now)]


def record_capability(loader: Loader, command: cmd.RecordCapability, now: datetime) -> Handled:
    conversation = get(loader, Conversation, command.conversation_id)
    contact = get(loader, Contact, conversation.contact_id)
    changed = contact.capability_checked(
        command.channel, command.capable, list(command.features), at=now
    )
    return outcome_of(conversation, changed), [contact] if changed else []


def enforce_deadline(
    loader: Loader, command: cmd.EnforceFallbackDeadline, now: datetime
) -> Handled:
    conversation = get(loader, Conversation, command.conversation_id)
    changed = conversation.fallback_due(command.message_id, at=now, now=command.now)
    outcome = outcome_of(conversation, changed, message_id=command.message_id)
    return outcome, [conversation] if changed else []


def record_revocation(loader: Loader, command: cmd.RecordRevocation, now: datetime) -> Handled:
    conversation = get(loader, Conversation, command.conversation_id)
    message_id = command.message_id
    changed: list[Aggregate] = []
    if command.result == "revoked":
        if conversation.revoked(message_id, at=now):
            changed = fall_back(loader, conversation, message_id, FallbackReason.DEADLINE, now)
    elif conversation.revocation_failed(message_id, command.reason or command.result, at=now):
        changed = [conversation]
        if command.result == "already_delivered":
            conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=now)
    message = conversation.message(message_id)
    outcome = outcome_of(
        conversation,
        bool(changed),
        message_id=message_id,
        channel=message.channel,
        status=message.status,
    )
    return outcome, changed


def configure_fallback(loader: Loader, command: cmd.ConfigureFallback, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    changed = brand.configure_fallback(command.after_seconds, at=now)
    return cmd.Outcome(changed=changed, brand_id=brand.id), [brand] if changed else []
