"""An SMS answer read back as the suggestion it numbers, only when the consumer was looking
at numbered choices: the SMS fallback of a rich RCS message, or rich content sent by SMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from chainon.choices import choice_of, chosen_suggestion, offered_choices
from domain.channels import Channel
from domain.conversation import Conversation, FallbackReason
from domain.ids import fallback_message_id
from domain.message_status import MessageStatus
from domain.rich_content import (
    Card,
    OpenUrl,
    RichContent,
    SuggestedAction,
    SuggestedReply,
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


def test_a_2_by_sms_after_the_fallback_picks_the_second_suggestion() -> None:
    conversation, rcs = fallen_back()
    choice = chosen_suggestion(conversation, "2")
    assert choice is not None
    assert choice.message_id == rcs  # the RCS message's postback, not the SMS's
    assert (choice.suggestion.text, choice.postback_data) == ("Demain", "tomorrow")
    first = chosen_suggestion(conversation, " 1. ")
    assert first is not None
    assert first.postback_data == "today"
    by_text = chosen_suggestion(conversation, "demain")
    assert by_text is not None
    assert by_text.postback_data == "tomorrow"


def test_a_number_beyond_the_choices_or_other_text_picks_nothing() -> None:
    conversation, _ = fallen_back()
    for text in ("3", "0", "2 svp", "ok", ""):
        assert chosen_suggestion(conversation, text) is None, text


def test_a_recorded_answer_is_read_as_of_when_it_came() -> None:
    conversation, rcs = fallen_back()
    answer = receive(conversation, "2")
    queue(conversation, Channel.SMS, body="Parfait, à demain !")  # an agent answers after
    assert chosen_suggestion(conversation, "2") is None  # a new "2" answers nothing now
    choice = choice_of(conversation, conversation.messages[answer])
    assert choice is not None
    assert (choice.message_id, choice.postback_data) == (rcs, "tomorrow")


def test_an_ordinary_message_since_ends_the_offer() -> None:
    conversation, _ = fallen_back()
    queue(conversation, Channel.SMS, body="Finalement, nous vous appelons.")
    assert offered_choices(conversation) is None


def test_rich_content_sent_by_sms_from_the_start_offers_its_choices() -> None:
    conversation = opened()
    sms = queue(conversation, Channel.SMS, body=render_sms(QUESTION), rich=QUESTION)
    choice = chosen_suggestion(conversation, "2")
    assert choice is not None
    assert (choice.message_id, choice.postback_data) == (sms, "tomorrow")


def test_an_sms_2_while_the_question_is_on_rcs_picks_nothing() -> None:
    # The RCS chips had no numbers: a "2" by SMS is not a tap.
    conversation = opened()
    queue(conversation, Channel.RCS, body="?", rich=QUESTION)
    assert chosen_suggestion(conversation, "2") is None
    assert chosen_suggestion(conversation, "2", channel=Channel.RCS) is None


def test_an_answer_on_another_channel_than_the_fallback_picks_nothing() -> None:
    conversation, _ = fallen_back()
    answer = receive(conversation, "2", channel=Channel.RCS)
    assert choice_of(conversation, conversation.messages[answer]) is None


def test_a_fallback_of_a_plain_rcs_message_offers_nothing() -> None:
    conversation = opened()
    rcs = queue(conversation, Channel.RCS, body="Votre code : 4821")
    conversation.record_outcome(rcs, MessageStatus.FAILED, at=T0, reason="rbm 400")
    queue(conversation, Channel.SMS, body="Votre code : 4821", fallback_of=rcs)
    assert chosen_suggestion(conversation, "1") is None


def test_an_outbound_message_is_no_answer() -> None:
    conversation, rcs = fallen_back()
    assert choice_of(conversation, conversation.messages[rcs]) is None


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
    picks = [chosen_suggestion(conversation, n) for n in ("1", "2")]
    assert [p.postback_data if p else None for p in picks] == ["track", "cancel"]


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
    choice = chosen_suggestion(conversation, str(number))
    assert choice is not None
    assert choice.postback_data == f"p{number - 1}"
