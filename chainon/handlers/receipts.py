"""What became of a sent message: the provider took it (or refused it), then its
receipts, per segment, perhaps before the send itself was recorded."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import may_fall_back
from chainon.domain.early_receipt import EarlyReceipt
from chainon.domain.index import IndexEntry, IndexKind, outbound_key
from chainon.domain.message import FallbackReason
from chainon.domain.message_status import MessageStatus
from chainon.handlers.fallback import fall_back
from chainon.handlers.loading import Handled, Loader, find_entry, get, outcome_of


def record_sent(loader: Loader, command: cmd.RecordSent, now: datetime) -> Handled:
    conversation = get(loader, Conversation, command.conversation_id)
    segment_ids = command.segment_ids or [command.provider_message_id]
    within = command.receipt_within_seconds
    changed = conversation.mark_sent(
        command.message_id,
        provider=command.provider,
        provider_message_id=command.provider_message_id,
        segment_ids=segment_ids,
        at=now,
        receipt_deadline=None if within is None else now + timedelta(seconds=within),
    )
    if not changed:
        return outcome_of(conversation, False, message_id=command.message_id), []
    # Every segment's id leads back to the message: receipts come per segment.
    segments = list(dict.fromkeys([command.provider_message_id, *segment_ids]))
    touched: list[Aggregate] = [
        IndexEntry.claim(
            IndexKind.PROVIDER_MESSAGE,
            outbound_key(command.provider, segment),
            conversation.id,
            at=now,
            detail=str(command.message_id),
        )
        for segment in segments
    ]
    for segment in segments:
        early = loader.find(EarlyReceipt, ids.early_receipt_id(command.provider, segment))
        if early is not None and early.settle(conversation, command.message_id, segment, at=now):
            touched.append(early)
    message = conversation.message(command.message_id)
    outcome = outcome_of(
        conversation,
        True,
        message_id=command.message_id,
        channel=message.channel,
        status=message.status,
    )
    return outcome, [conversation, *touched]


def record_send_failure(loader: Loader, command: cmd.RecordSendFailure, now: datetime) -> Handled:
    conversation = get(loader, Conversation, command.conversation_id)
    changed = conversation.record_outcome(
        command.message_id, MessageStatus.FAILED, at=now, reason=command.reason
    )
    outcome = outcome_of(conversation, changed, message_id=command.message_id)
    if not changed:
        return outcome, []
    touched: list[Aggregate] = [conversation]
    reason = (
        FallbackReason.NOT_CAPABLE
        if command.reason == FallbackReason.NOT_CAPABLE.value
        else FallbackReason.FAILED
    )
    if may_fall_back(conversation.message(command.message_id), reason):
        touched = fall_back(loader, conversation, command.message_id, reason, now)
    if reason is FallbackReason.NOT_CAPABLE:
        contact = get(loader, Contact, conversation.contact_id)
        if contact.capability_checked(Channel.RCS, False, [], at=now):
            touched.append(contact)
    return outcome, touched


def record_receipt(loader: Loader, command: cmd.RecordReceipt, now: datetime) -> Handled:
    for segment_id in dict.fromkeys([command.provider_message_id, *command.alternative_ids]):
        entry = find_entry(
            loader, IndexKind.PROVIDER_MESSAGE, outbound_key(command.provider, segment_id)
        )
        if entry is not None:
            break
    else:
        return keep_early(loader, command, now)
    conversation = get(loader, Conversation, entry.target_id)
    message_id = UUID(entry.detail)
    moved = conversation.record_outcome(
        message_id, command.status, at=now, reason=command.reason, segment_id=segment_id
    )
    read = command.read and conversation.mark_read(message_id, at=now)
    changed = moved or read
    message = conversation.message(message_id)
    outcome = outcome_of(
        conversation,
        changed,
        message_id=message_id,
        channel=message.channel,
        # Set only when this receipt gave the message its status (not for one segment
        # of several, nor for a read receipt of a message already delivered).
        status=command.status if moved and message.status is command.status else None,
        read=read,
    )
    if changed and may_fall_back(conversation.message(message_id), FallbackReason.FAILED):
        return outcome, fall_back(loader, conversation, message_id, FallbackReason.FAILED, now)
    return outcome, [conversation] if changed else []


def enforce_receipt_deadline(
    loader: Loader, command: cmd.EnforceReceiptDeadline, now: datetime
) -> Handled:
    """No receipt by the deadline: the message is expired (an RCS message whose plan is
    still waiting falls back, as after a failure). Handed the same deadline again, or
    after a receipt won the race, it changes nothing."""
    conversation = get(loader, Conversation, command.conversation_id)
    message_id = command.message_id
    changed = conversation.receipt_overdue(message_id, at=now)
    message = conversation.message(message_id)
    outcome = outcome_of(
        conversation,
        changed,
        message_id=message_id,
        channel=message.channel,
        status=message.status if changed else None,
    )
    if changed and may_fall_back(conversation.message(message_id), FallbackReason.FAILED):
        return outcome, fall_back(loader, conversation, message_id, FallbackReason.FAILED, now)
    return outcome, [conversation] if changed else []


def keep_early(loader: Loader, command: cmd.RecordReceipt, now: datetime) -> Handled:
    """A receipt for an id no message has (yet): kept until its send is recorded."""
    kept = loader.find(
        EarlyReceipt, ids.early_receipt_id(command.provider, command.provider_message_id)
    )
    if kept is None:
        kept = EarlyReceipt.keep(
            command.provider, command.provider_message_id, command.status, command.reason, at=now
        )
        new = True
    else:
        new = kept.keep_again(command.status, command.reason, at=now)
    if command.read:
        new = kept.keep_read(at=now) or new
    if not new:
        return cmd.Outcome(changed=False, duplicate=True), []
    return cmd.Outcome(changed=False, kept=True), [kept]
