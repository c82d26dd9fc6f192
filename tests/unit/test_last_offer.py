"""The offer an answer refers to (``conversation_rules.last_offer``): the rich message whose
suggestions the consumer last saw, through the SMS that replaced it, until a plain message
ends it; and the answer "2" read against it (``choice_from_sms_reply``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import last_offer
from chainon.domain.ids import fallback_message_id
from chainon.domain.message import FallbackReason
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import (
    Card,
    OpenUrl,
    RichContent,
    SuggestedAction,
    SuggestedReply,
    choice_from_sms_reply,
    render_sms,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PHONE = "+33612345678"
QUESTION = RichContent(
    text="Quand souhaitez-vous être livré ?",
    suggestions=[
        SuggestedReply(text="Aujourd'hui", postback_data="today"),
        SuggestedReply(text="Demain", postback_data="tomorrow"),
    ],
)


def opened() -> Conversation:
    return Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)


def queue(
    conversation: Conversation,
    channel: Channel,
    *,
    body: str = "Bonjour",
    rich: RichContent | None = None,
    message_id: UUID | None = None,
    fallback_of: UUID | None = None,
) -> UUID:
    message_id = message_id or uuid4()
    conversation.queue(
        message_id=message_id,
        channel=channel,
        sender="agent" if channel is Channel.RCS else "+33939000001",
        recipient=PHONE,
        body=body,
        encoding=None,
        segments=1,
        replaced=(),
        at=T0,
        rich=rich.model_dump(mode="json", exclude_none=True) if rich else None,
        fallback_of=fallback_of,
    )
    return message_id


def receive(conversation: Conversation, body: str, channel: Channel = Channel.SMS) -> UUID:
    message_id = uuid4()
    conversation.receive(
        message_id=message_id,
        channel=channel,
        sender=PHONE,
        recipient="+33939000001",
        body=body,
        provider="sandbox",
        provider_message_id=str(message_id),
        at=T0 + timedelta(minutes=2),
    )
    return message_id


def fallen_back(content: RichContent = QUESTION) -> tuple[Conversation, UUID]:
    """An RCS question revoked at its deadline and replaced by its SMS rendering."""
    conversation = opened()
    rcs = queue(conversation, Channel.RCS, body=content.text or "", rich=content)
    conversation.plan_fallback(rcs, Channel.SMS, T0 + timedelta(seconds=60))
    conversation.mark_sent(rcs, provider="sandbox", provider_message_id="r", at=T0)
    assert conversation.fallback_due(rcs, at=T0 + timedelta(seconds=61))
    assert conversation.revoked(rcs, at=T0 + timedelta(seconds=62))
    replacement = fallback_message_id(rcs)
    conversation.fall_back(
        rcs, FallbackReason.DEADLINE, Channel.SMS, replacement, at=T0 + timedelta(seconds=62)
    )
    queue(
        conversation,
        Channel.SMS,
        body=render_sms(content),
        message_id=replacement,
        fallback_of=rcs,
    )
    return conversation, rcs


def picked(conversation: Conversation, text: str) -> str | None:
    """The postback an answer ``text`` picks now, as the core reads it."""
    offer = last_offer(conversation)
    if offer is None or offer.rich is None:
        return None
    choice = choice_from_sms_reply(RichContent.model_validate(offer.rich), text)
    return None if choice is None else choice.postback_data


def test_after_the_fallback_the_offer_is_the_rcs_message_and_2_picks_its_second() -> None:
    conversation, rcs = fallen_back()
    offer = last_offer(conversation)
    assert offer is not None
    assert offer.id == rcs  # the RCS message's postbacks, not the SMS's (it has none)
    assert picked(conversation, "2") == "tomorrow"
    assert picked(conversation, " 1. ") == "today"
    assert picked(conversation, "demain") == "tomorrow"


def test_a_number_beyond_the_choices_or_other_text_picks_nothing() -> None:
    conversation, _ = fallen_back()
    for text in ("3", "0", "2 svp", "ok", ""):
        assert picked(conversation, text) is None, text


def test_the_consumers_own_messages_do_not_end_the_offer() -> None:
    conversation, rcs = fallen_back()
    receive(conversation, "euh")
    receive(conversation, "2")
    offer = last_offer(conversation)
    assert offer is not None
    assert offer.id == rcs


def test_an_ordinary_message_since_ends_the_offer() -> None:
    conversation, _ = fallen_back()
    queue(conversation, Channel.SMS, body="Finalement, nous vous appelons.")
    assert last_offer(conversation) is None
    assert picked(conversation, "2") is None


def test_rich_content_sent_by_sms_from_the_start_is_its_own_offer() -> None:
    conversation = opened()
    sms = queue(conversation, Channel.SMS, body=render_sms(QUESTION), rich=QUESTION)
    offer = last_offer(conversation)
    assert offer is not None
    assert offer.id == sms
    assert picked(conversation, "2") == "tomorrow"


def test_the_fallback_of_a_plain_rcs_message_offers_nothing() -> None:
    conversation = opened()
    rcs = queue(conversation, Channel.RCS, body="Votre code : 4821")
    conversation.record_outcome(rcs, MessageStatus.FAILED, at=T0, reason="rbm 400")
    queue(conversation, Channel.SMS, body="Votre code : 4821", fallback_of=rcs)
    assert last_offer(conversation) is None


def test_a_conversation_without_outbound_messages_has_no_offer() -> None:
    conversation = opened()
    receive(conversation, "2")
    assert last_offer(conversation) is None


def test_card_chips_come_first_in_the_numbering() -> None:
    content = RichContent(
        card=Card(
            title="Commande 4821",
            suggestions=[
                SuggestedAction(
                    text="Suivre",
                    postback_data="track",
                    action=OpenUrl(url="https://colis.example/4821"),
                )
            ],
        ),
        suggestions=[SuggestedReply(text="Annuler", postback_data="cancel")],
    )
    conversation, _ = fallen_back(content)
    assert [picked(conversation, n) for n in ("1", "2")] == ["track", "cancel"]


@given(st.integers(min_value=1, max_value=11), st.data())
def test_every_number_shown_picks_its_own_suggestion(count: int, data: st.DataObject) -> None:
    content = RichContent(
        text="Choisissez",
        suggestions=[
            SuggestedReply(text=f"Choix {n}", postback_data=f"p{n}") for n in range(count)
        ],
    )
    conversation, _ = fallen_back(content)
    number = data.draw(st.integers(min_value=1, max_value=count))
    assert render_sms(content).count(f"{number} pour Choix {number - 1}") == 1
    assert picked(conversation, str(number)) == f"p{number - 1}"
