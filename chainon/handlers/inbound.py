"""Inbound: a consumer's message, routed to its brand and conversation, recorded once
per provider id; one no brand can take is refused and recorded, never dropped."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import Address
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.choices import chosen
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import desk_holder
from chainon.domain.errors import InvalidInput
from chainon.domain.index import IndexEntry, IndexKind, inbound_key, outbound_key, sender_key
from chainon.domain.refusal import RefusedInbound
from chainon.domain.routing import (
    consumer_address,
    destination,
    hinted_conversation,
    joins,
    no_owner,
    not_the_contact,
)
from chainon.domain.sending_limits import flooding
from chainon.handlers.agents import keep_desks
from chainon.handlers.bot import Heard, hear
from chainon.handlers.contacts import contact_for, current_conversation
from chainon.handlers.keywords import Words, act_on_words, read_words
from chainon.handlers.loading import Handled, Loader, find_entry, get


def receive(loader: Loader, command: cmd.ReceiveMessage, now: datetime) -> Handled:
    provider, given, scope = command.provider, command.provider_message_id, command.brand_id
    message_id = ids.inbound_message_id(provider, given, scope)
    recorded = inbound_outcome(loader, provider, given, scope)
    if recorded is not None:
        return recorded, []
    try:
        sender = consumer_address(command.channel, command.sender, loader.default_region)
        hinted = _hinted(loader, command, sender)
        if hinted is None and command.conversation_hint is not None:
            raise not_the_contact(command.channel)
        brand_id = hinted.brand_id if hinted is not None else _brand_of(loader, command)
        if scope is not None and brand_id != scope:
            raise InvalidInput(f"{command.recipient} is not an address of the sending brand")
    except InvalidInput as refusal:
        return refuse(command, message_id, refusal.detail, now)
    brand = get(loader, Brand, brand_id)
    contact, changed = contact_for(loader, brand.id, sender, now)
    if hinted is not None and joins(hinted, brand, at=now):
        conversation = hinted
    else:
        conversation = current_conversation(loader, brand, contact, now)
    held_by = desk_holder(conversation)
    conversation.receive(
        message_id=message_id,
        channel=command.channel,
        sender=sender.value,
        recipient=command.recipient,
        body=command.body,
        provider=provider,
        provider_message_id=given,
        at=now,
        request_id=command.request_id,
        subject=command.subject,
        attachments=tuple(command.attachments),
        automatic=command.automatic,
    )
    contact.reached_on(command.channel, at=now)
    choice = (
        None  # a machine's words pick nothing: a brand's flow must not answer them
        if command.automatic
        else chosen(conversation, command.channel, command.body, command.postback_data)
    )
    if choice is not None:
        conversation.choose(
            message_id,
            in_reply_to=choice.in_reply_to,
            postback_data=choice.postback_data,
            text=choice.text,
            at=now,
        )
    # A machine's words (an out-of-office) are nobody's wish about consent.
    ledger: list[Aggregate] = []
    said: list[Aggregate] = []
    if not command.automatic:
        words = read_words(brand, command.channel, command.body)
        flooded = flooding(conversation, now, brand.sending_limits.inbound_per_minute)
        ledger = act_on_words(
            loader,
            brand,
            conversation,
            contact,
            message_id,
            sender,
            command.channel,
            command.body,
            now,
            words,
            flooded,
        )
        said = _bot(
            loader, brand, conversation, contact, message_id, sender, command, now, words, flooded
        )
    seen = IndexEntry.claim(
        IndexKind.PROVIDER_MESSAGE,
        inbound_key(provider, given, scope),
        conversation.id,
        at=now,
        detail=str(message_id),
    )
    outcome = cmd.Outcome(
        brand_id=brand.id,
        contact_id=contact.id,
        conversation_id=conversation.id,
        message_id=message_id,
        channel=command.channel,
    )
    desks = keep_desks(loader, conversation, held_by, now)
    bots = [a for a in said if a is not conversation and a is not contact]
    return outcome, [*changed, conversation, contact, seen, *ledger, *bots, *desks]


def _bot(
    loader: Loader,
    brand: Brand,
    conversation: Conversation,
    contact: Contact,
    message_id: UUID,
    sender: Address,
    command: cmd.ReceiveMessage,
    now: datetime,
    words: Words,
    flooded: bool,
) -> list[Aggregate]:
    """The bot's part, after consent handling (an opt-out always wins over a flow)."""
    read = words.meaning
    if read != "opt_out" and flooded:
        return []  # recorded, but no question goes back to a flood (an automaton's loop)
    heard = Heard(
        message_id=message_id,
        channel=command.channel,
        sender=sender,
        recipient=command.recipient,
        body=command.body,
        postback=command.postback_data,
        first=len(conversation.messages) == 1,
        opted_out=read == "opt_out",
        consent_words=read == "keyword",
    )
    return hear(loader, brand, conversation, contact, heard, command, now)


def inbound_outcome(
    loader: Loader, provider: str, provider_message_id: str, brand_id: UUID | None = None
) -> cmd.Outcome | None:
    """What became of an inbound message already recorded (or refused); None if unseen.

    With ``brand_id`` (the sandbox's ids, unique within a brand only) only that brand's
    message is found: a duplicate is never answered with another brand's ids.
    """
    found = _recorded(loader, provider, provider_message_id, brand_id)
    if found is not None:
        conversation, message_id = found
        return cmd.Outcome(
            changed=False,
            duplicate=True,
            brand_id=conversation.brand_id,
            contact_id=conversation.contact_id,
            conversation_id=conversation.id,
            message_id=message_id,
            channel=conversation.message(message_id).channel,
        )
    message_id = ids.inbound_message_id(provider, provider_message_id, brand_id)
    refused = loader.find(RefusedInbound, message_id)
    if refused is not None:
        return cmd.Outcome(changed=False, duplicate=True, refused=refused.reason)
    return None


def _recorded(
    loader: Loader, provider: str, given: str, brand_id: UUID | None
) -> tuple[Conversation, UUID] | None:
    """The conversation and message id an inbound message was recorded with.

    A sandbox message recorded before its ids were scoped per brand has the key every
    provider has (``in:sandbox:…``): a repeat of it is still a retry for the brand whose
    message it was, and for any other brand a message of its own.
    """
    seen = find_entry(loader, IndexKind.PROVIDER_MESSAGE, inbound_key(provider, given, brand_id))
    if seen is not None:
        message_id = ids.inbound_message_id(provider, given, brand_id)
        return get(loader, Conversation, seen.target_id), message_id
    if brand_id is None:
        return None
    before = find_entry(loader, IndexKind.PROVIDER_MESSAGE, inbound_key(provider, given))
    if before is None:
        return None
    conversation = get(loader, Conversation, before.target_id)
    if conversation.brand_id != brand_id:
        return None
    return conversation, ids.inbound_message_id(provider, given)


def refuse(command: cmd.ReceiveMessage, message_id: UUID, reason: str, now: datetime) -> Handled:
    refusal = RefusedInbound.refuse(
        message_id,
        provider=command.provider,
        provider_message_id=command.provider_message_id,
        channel=command.channel.value,
        sender=command.sender,
        recipient=command.recipient,
        body=command.body,
        reason=reason,
        at=now,
    )
    return cmd.Outcome(changed=True, refused=reason), [refusal]


def _brand_of(loader: Loader, command: cmd.ReceiveMessage) -> UUID:
    """The brand owning the address the message was sent to."""
    address = destination(command.channel, command.recipient, loader.default_region)
    owner = find_entry(loader, IndexKind.SENDER_ADDRESS, sender_key(command.channel, address))
    if owner is None:
        raise no_owner(command.channel, address)
    return owner.target_id


def is_contact(loader: Loader, conversation_id: UUID, raw_sender: str) -> bool:
    """Whether an email's sender may write to this conversation's reply address."""
    conversation = loader.find(Conversation, conversation_id)
    if conversation is None:
        return False
    try:
        sender = consumer_address(Channel.EMAIL, raw_sender, loader.default_region)
    except InvalidInput:
        return False
    contact = get(loader, Contact, conversation.contact_id)
    return hinted_conversation([(conversation, contact)], sender) is not None


def _hinted(loader: Loader, command: cmd.ReceiveMessage, sender: Address) -> Conversation | None:
    """The conversation a signed reply address or an In-Reply-To names, if the sender is
    its contact (the domain's rule, ``hinted_conversation``)."""
    candidates: list[UUID] = []
    if command.conversation_hint is not None:
        candidates.append(command.conversation_hint)
    for replied in command.replies_to:
        entry = find_entry(
            loader, IndexKind.PROVIDER_MESSAGE, outbound_key(command.provider, replied)
        )
        if entry is not None:
            candidates.append(entry.target_id)
    loaded = (
        (conversation, get(loader, Contact, conversation.contact_id))
        for conversation in (loader.find(Conversation, c) for c in candidates)
        if conversation is not None
    )
    return hinted_conversation(loaded, sender)
