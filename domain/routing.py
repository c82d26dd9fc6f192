"""Routing an inbound message: which brand it is for, who sent it, which conversation.

The handler looks the candidates up; the rules that choose between them live here, so a
newcomer reads "why did this message land in that conversation" in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from chainon.domain.addresses import Address, parse_email, parse_phone
from chainon.domain.brand import Brand
from chainon.domain.channels import CHANNEL_ADDRESS_KIND, AddressKind, Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import takes_new_message
from chainon.domain.errors import InvalidInput


def sender_address(channel: Channel, raw: str, default_region: str) -> str:
    """A brand's own address on a channel, normalised (an RCS agent id is kept as it is)."""
    if channel is Channel.RCS:
        agent = raw.strip()
        if not agent:
            raise InvalidInput("must not be empty", field="address")
        return agent
    if channel is Channel.EMAIL:
        return parse_email(raw).value
    return parse_phone(raw, default_region=default_region).value


def destination(channel: Channel, recipient: str, default_region: str) -> str:
    """The brand address an inbound message was sent to; refused naming ``recipient``."""
    try:
        return sender_address(channel, recipient, default_region)
    except InvalidInput as exc:
        raise InvalidInput(f"unreadable destination: {exc.detail}", field="recipient") from None


def no_owner(channel: Channel, address: str) -> InvalidInput:
    """The refusal of a message to an address no brand owns (recorded, never dropped)."""
    return InvalidInput(f"no brand owns the {channel.value} address {address}", field="recipient")


def not_the_contact(channel: Channel) -> InvalidInput:
    """The refusal of a reply to a conversation's own address (an email's signed reply
    address) from someone who is not its contact: a stranger never writes into it."""
    return InvalidInput(
        f"the sender is not the contact of the conversation this {channel.value} reply "
        "address belongs to",
        field="sender",
    )


def consumer_address(channel: Channel, raw: str, default_region: str) -> Address:
    """Who wrote: a phone number or an email address, by what the channel carries."""
    if CHANNEL_ADDRESS_KIND[channel] is AddressKind.EMAIL:
        return parse_email(raw, field="sender")
    return parse_phone(raw, default_region=default_region, field="sender")


def hinted_conversation(
    candidates: Iterable[tuple[Conversation, Contact]], sender: Address
) -> Conversation | None:
    """The conversation the channel says this answers, if the sender is its contact.

    A signed reply address or an In-Reply-To naming one of our messages is a strong hint;
    it is ignored when the sender is someone else, so a hint never lets a stranger into
    another person's conversation.
    """
    for conversation, contact in candidates:
        if sender in contact.addresses:
            return conversation
    return None


def reopen_window(brand: Brand) -> timedelta:
    return timedelta(hours=brand.reopen_window_hours)


def joins(conversation: Conversation | None, brand: Brand, *, at: datetime) -> bool:
    """Whether a new message (either way) joins this conversation rather than opening the
    contact's next one: open, or resolved within the brand's reopen window."""
    return conversation is not None and takes_new_message(
        conversation, at=at, reopen_window=reopen_window(brand)
    )
