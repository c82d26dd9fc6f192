"""Which channel a message takes, and what it says there.

A send names an address (and perhaps a channel); a reply goes where the contact last
wrote from. RCS content degrades to numbered text wherever it is not shown as chips, and
a handset known not to take RCS goes straight to the brand's fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chainon.domain.brand import Brand
from chainon.domain.channels import CHANNEL_ADDRESS_KIND, AddressKind, Channel, channels_reaching
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import last_inbound
from chainon.domain.errors import InvalidInput
from chainon.domain.rich_content import RichContent, render_sms


def _an(kind: AddressKind) -> str:
    return f"an {kind.value}" if kind.value[0] in "aeiou" else f"a {kind.value}"


def pick_channel(brand: Brand, kind: AddressKind, forced: Channel | None) -> Channel:
    """The channel asked for, if it can reach the address and the brand has a sender on
    it; otherwise the first of the brand's order that can."""
    if forced is not None:
        if CHANNEL_ADDRESS_KIND[forced] is not kind:
            raise InvalidInput(f"{forced.value} cannot reach {_an(kind)} address", field="channel")
        if forced not in brand.senders:
            raise InvalidInput(f"the brand has no {forced.value} sender", field="channel")
        return forced
    for channel in channels_reaching(kind, brand.channel_order):
        if channel in brand.senders:
            return channel
    raise InvalidInput(f"the brand has no channel that reaches {_an(kind)} address", field="to")


def reply_channel(brand: Brand, contact: Contact, conversation: Conversation) -> Channel:
    """Where the contact last wrote from, else the first of the brand's order reaching them."""
    inbound = last_inbound(conversation)
    if inbound is not None and inbound.channel in brand.senders:
        return inbound.channel
    for channel in brand.channel_order:
        if channel in brand.senders and contact.address_of(CHANNEL_ADDRESS_KIND[channel]):
            return channel
    raise InvalidInput("no channel of the brand reaches this contact", field="channel")


def sender_on(brand: Brand, channel: Channel) -> str:
    sender = brand.sender_for(channel)
    if sender is None:
        raise InvalidInput(f"the brand has no {channel.value} sender", field="channel")
    return sender


@dataclass(frozen=True)
class Wording:
    """What a send says on its channel: the text, and the rich content kept beside it."""

    text: str
    rich: RichContent | None


def wording(body: str | None, rich: RichContent | None, channel: Channel) -> Wording:
    """The brand's own text wins; it offers no numbered choices, so off RCS its rich
    content is dropped. Without text, RCS shows the chips themselves and every other
    channel numbers them in the text."""
    if body is not None:
        return Wording(body, rich if channel is Channel.RCS else None)
    assert rich is not None  # SendMessage requires one of them
    if channel is Channel.RCS:
        return Wording(rich.text or render_sms(rich), rich)
    return Wording(render_sms(rich), rich)


def known_not_capable(brand: Brand, contact: Contact, channel: Channel, *, at: datetime) -> bool:
    """An RCS send to a handset known (recently) not to take RCS, for a brand that has a
    channel to fall back to: it goes straight to the fallback, counted as one."""
    return (
        channel is Channel.RCS
        and brand.fallback_channel(channel) is not None
        and contact.capable_of(Channel.RCS, at=at) is False
    )


def capability_known(contact: Contact, channel: Channel, *, at: datetime) -> bool:
    """A fresh "yes" from the provider spares an RCS send its capability check (RBM
    rate-limits them); a "no" never gets here, it goes straight to the fallback."""
    return channel is Channel.RCS and contact.capable_of(Channel.RCS, at=at) is True


def fallback_text(message_text: str, rich: RichContent | None) -> str:
    """What the replacement of an RCS message says on its fallback channel."""
    return render_sms(rich) if rich is not None else message_text
