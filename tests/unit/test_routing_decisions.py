"""Where a message goes, decided with no store: the inbound routing rules
(``domain/routing.py``), the channel a send or a reply takes and what it says there
(``domain/channel_choice.py``), and an answer read as a suggestion (``domain/choices.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from chainon.domain.addresses import parse_email, parse_phone
from chainon.domain.brand import Brand
from chainon.domain.channel_choice import (
    capability_known,
    fallback_text,
    known_not_capable,
    pick_channel,
    reply_channel,
    wording,
)
from chainon.domain.channels import AddressKind, Channel
from chainon.domain.choices import chosen
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import last_offer
from chainon.domain.errors import InvalidInput
from chainon.domain.rich_content import RichContent, SuggestedReply, render_sms
from chainon.domain.routing import (
    consumer_address,
    destination,
    hinted_conversation,
    joins,
    sender_address,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PHONE = "+33612345678"
QUESTION = RichContent(
    text="Quand ?",
    suggestions=[
        SuggestedReply(text="Matin", postback_data="am"),
        SuggestedReply(text="Après-midi", postback_data="pm"),
    ],
)


def brand(*channels: Channel) -> Brand:
    b = Brand.register(slug="acme", name="Acme", at=T0)
    senders = {Channel.SMS: "+33939000001", Channel.RCS: "acme_agent", Channel.EMAIL: "a@acme.fr"}
    for channel in channels:
        b.add_sender(channel, senders[channel], at=T0)
    return b


def contact(address: str = PHONE) -> Contact:
    return Contact.register(uuid4(), parse_phone(address, default_region="FR"), at=T0)


def conversation_of(c: Contact) -> Conversation:
    return Conversation.open(uuid4(), c.brand_id, c.id, 1, at=T0)


# Inbound routing


def test_a_brand_address_is_normalised_per_channel() -> None:
    assert sender_address(Channel.SMS, "09 39 00 00 01", "FR") == "+33939000001"
    assert sender_address(Channel.EMAIL, "Bonjour@Acme.FR", "FR") == "bonjour@acme.fr"
    assert sender_address(Channel.RCS, "  acme_agent ", "FR") == "acme_agent"
    with pytest.raises(InvalidInput) as refused:
        sender_address(Channel.RCS, "  ", "FR")
    assert refused.value.field == "address"


def test_an_unreadable_destination_is_refused_naming_the_recipient() -> None:
    with pytest.raises(InvalidInput) as refused:
        destination(Channel.SMS, "not a number", "FR")
    assert refused.value.field == "recipient"
    assert refused.value.detail.startswith("unreadable destination")


def test_the_sender_is_read_by_what_the_channel_carries() -> None:
    assert consumer_address(Channel.SMS, "06 12 34 56 78", "FR").value == PHONE
    assert consumer_address(Channel.EMAIL, "Jo@Example.com", "FR").kind is AddressKind.EMAIL
    with pytest.raises(InvalidInput) as refused:
        consumer_address(Channel.EMAIL, "+33612345678", "FR")
    assert refused.value.field == "sender"


def test_a_hint_is_followed_only_for_the_conversations_own_contact() -> None:
    mine, stranger = contact(), contact("+33699999999")
    conversation = conversation_of(mine)
    sender = parse_phone(PHONE, default_region="FR")
    assert hinted_conversation([(conversation, mine)], sender) is conversation
    assert hinted_conversation([(conversation, stranger)], sender) is None
    assert hinted_conversation([], sender) is None


def test_a_resolved_conversation_takes_new_messages_only_within_the_reopen_window() -> None:
    b, c = brand(Channel.SMS), contact()
    conversation = conversation_of(c)
    assert joins(conversation, b, at=T0)
    conversation.resolve(by="ana", at=T0)
    window = timedelta(hours=b.reopen_window_hours)
    assert joins(conversation, b, at=T0 + window)
    assert not joins(conversation, b, at=T0 + window + timedelta(seconds=1))
    assert not joins(None, b, at=T0)


# Channel choice


def test_the_brand_order_picks_the_first_channel_it_has_a_sender_on() -> None:
    assert pick_channel(brand(Channel.SMS, Channel.RCS), AddressKind.PHONE, None) is Channel.RCS
    assert pick_channel(brand(Channel.SMS), AddressKind.PHONE, None) is Channel.SMS
    assert pick_channel(brand(Channel.EMAIL), AddressKind.EMAIL, None) is Channel.EMAIL


@pytest.mark.parametrize(
    ("channels", "kind", "forced", "field"),
    [
        ((Channel.SMS,), AddressKind.EMAIL, None, "to"),
        ((Channel.SMS,), AddressKind.PHONE, Channel.EMAIL, "channel"),
        ((Channel.SMS,), AddressKind.PHONE, Channel.RCS, "channel"),
    ],
)
def test_a_channel_that_cannot_reach_is_refused_naming_the_field(
    channels: tuple[Channel, ...], kind: AddressKind, forced: Channel | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        pick_channel(brand(*channels), kind, forced)
    assert refused.value.field == field


def test_a_reply_goes_where_the_contact_last_wrote_from() -> None:
    b, c = brand(Channel.SMS, Channel.EMAIL), contact()
    conversation = conversation_of(c)
    assert reply_channel(b, c, conversation) is Channel.SMS  # nothing received: the order
    c.add_address(parse_email("jo@example.com"), at=T0)
    conversation.receive(
        message_id=uuid4(),
        channel=Channel.EMAIL,
        sender="jo@example.com",
        recipient="a@acme.fr",
        body="Bonjour",
        provider="smtp",
        provider_message_id="<1@example.com>",
        at=T0,
    )
    assert reply_channel(b, c, conversation) is Channel.EMAIL


def test_rich_content_is_shown_as_chips_on_rcs_and_numbered_elsewhere() -> None:
    on_rcs = wording(None, QUESTION, Channel.RCS)
    assert (on_rcs.text, on_rcs.rich) == ("Quand ?", QUESTION)
    on_sms = wording(None, QUESTION, Channel.SMS)
    assert on_sms.text == render_sms(QUESTION)
    assert "1 pour Matin" in on_sms.text
    own = wording("Matin ou après-midi ?", QUESTION, Channel.SMS)
    assert (own.text, own.rich) == ("Matin ou après-midi ?", None)
    assert fallback_text("Quand ?", QUESTION) == render_sms(QUESTION)
    assert fallback_text("Bonjour", None) == "Bonjour"


def test_a_handset_known_not_to_take_rcs_goes_straight_to_the_fallback() -> None:
    b, c = brand(Channel.SMS, Channel.RCS), contact()
    assert not known_not_capable(b, c, Channel.RCS, at=T0)  # unknown: ask the provider
    c.capability_checked(Channel.RCS, False, [], at=T0)
    assert known_not_capable(b, c, Channel.RCS, at=T0)
    assert not known_not_capable(brand(Channel.RCS), c, Channel.RCS, at=T0)  # nowhere to go
    assert not known_not_capable(b, c, Channel.RCS, at=T0 + timedelta(days=3))  # stale
    c.capability_checked(Channel.RCS, True, [], at=T0)
    assert capability_known(c, Channel.RCS, at=T0)
    assert not capability_known(c, Channel.SMS, at=T0)


# Answers read as suggestions


def offered_by_sms() -> Conversation:
    conversation = conversation_of(contact())
    conversation.queue(
        message_id=uuid4(),
        channel=Channel.SMS,
        sender="+33939000001",
        recipient=PHONE,
        body=render_sms(QUESTION),
        encoding="gsm7",
        segments=1,
        replaced=(),
        at=T0,
        rich=QUESTION.model_dump(mode="json", exclude_none=True),
    )
    return conversation


def test_a_number_answered_by_sms_is_the_numbered_suggestion() -> None:
    conversation = offered_by_sms()
    choice = chosen(conversation, Channel.SMS, " 2 ", None)
    assert choice is not None
    assert (choice.postback_data, choice.text) == ("pm", "Après-midi")
    assert chosen(conversation, Channel.SMS, "3", None) is None
    assert chosen(conversation, Channel.SMS, "bonjour", None) is None


def test_a_postback_is_the_choice_whatever_the_text() -> None:
    conversation = offered_by_sms()
    choice = chosen(conversation, Channel.RCS, "Matin", "am")
    assert choice is not None
    assert choice.postback_data == "am"
    assert choice.in_reply_to == last_offer(conversation).id  # type: ignore[union-attr]


def test_a_number_is_just_text_without_an_offer() -> None:
    conversation = conversation_of(contact())
    assert chosen(conversation, Channel.SMS, "2", None) is None
