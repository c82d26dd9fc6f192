"""Rich content: RBM's limits refused with the field at fault, and the SMS rendering whose
numbered choices read back to the suggestion the consumer picked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chainon.domain.rich_content import (
    Card,
    CardOrientation,
    CardWidth,
    CreateCalendarEvent,
    Dial,
    MediaHeight,
    OpenUrl,
    RichContent,
    ShareLocation,
    SuggestedAction,
    SuggestedReply,
    Suggestion,
    ThumbnailAlignment,
    ViewLocation,
    choice_from_sms_reply,
    render_sms,
    sms_choices,
)

YES = SuggestedReply(text="Oui", postback_data="yes")
NO = SuggestedReply(text="Non", postback_data="no")
TRACK = SuggestedAction(
    text="Suivre le colis",
    postback_data="track",
    action=OpenUrl(url="https://colis.example/t/42"),
)
CALL = SuggestedAction(
    text="Appeler", postback_data="call", action=Dial(phone_number="+33939000001")
)

# Strategies

# What a brand may write: any text but the C0 controls free text refuses (domain/plain_text.py).
written = st.characters(
    blacklist_categories=["Cs"],
    blacklist_characters=[chr(c) for c in range(0x20) if chr(c) not in "\t\r\n"],
)
suggestion_texts = st.text(written, min_size=1, max_size=25).filter(lambda t: t.strip() != "")
postbacks = st.text(written, min_size=1, max_size=64)
actions = st.one_of(
    st.builds(
        OpenUrl, url=st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9]{0,8}", fullmatch=True)
    ),
    st.builds(Dial, phone_number=st.from_regex(r"\+33[67][0-9]{8}", fullmatch=True)),
    st.just(ShareLocation()),
)
suggestions: st.SearchStrategy[Suggestion] = st.one_of(
    st.builds(SuggestedReply, text=suggestion_texts, postback_data=postbacks),
    st.builds(SuggestedAction, text=suggestion_texts, postback_data=postbacks, action=actions),
)
contents = st.builds(
    RichContent,
    text=st.text(written, min_size=1, max_size=300),
    suggestions=st.lists(suggestions, min_size=1, max_size=11),
)


def error_locations(exc: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(error["loc"]) for error in exc.errors()]


def refused(**fields: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        RichContent(**fields)
    return caught.value


# The numbering round-trips


@given(contents)
def test_replying_a_number_picks_that_suggestion(content: RichContent) -> None:
    for number, suggestion in enumerate(content.suggestions, start=1):
        for reply in (str(number), f" {number} ", f"{number}.", f"{number})", f"\n{number}.\n"):
            assert choice_from_sms_reply(content, reply) == suggestion


@given(contents)
def test_a_number_outside_the_choices_picks_nothing(content: RichContent) -> None:
    assert choice_from_sms_reply(content, "0") is None
    assert choice_from_sms_reply(content, str(len(content.suggestions) + 1)) is None


@given(contents)
def test_replying_a_suggestion_text_picks_a_suggestion_with_that_text(content: RichContent) -> None:
    for suggestion in content.suggestions:
        if suggestion.text.strip().rstrip(".)").strip().isascii() and (
            suggestion.text.strip().rstrip(".)").strip().isdigit()
        ):
            continue  # a number is read as a choice's number, by design
        picked = choice_from_sms_reply(content, f"  {suggestion.text}  ")
        assert picked is not None
        assert picked.text.strip().casefold() == suggestion.text.strip().casefold()


@given(contents)
def test_the_sms_shows_every_choice_numbered_in_order(content: RichContent) -> None:
    sms = render_sms(content, "en")
    assert sms.startswith(content.text or "")
    if not content.suggestions:
        return
    prompt = sms[len(content.text or "") + 1 :]
    assert prompt.startswith("Reply ")
    # Each choice in turn, numbered from 1 (a label may itself hold ", ", digits or a line
    # break, so walk the prompt rather than split it).
    rest = prompt.removeprefix("Reply ")
    for number, suggestion in enumerate(content.suggestions, 1):
        label = suggestion.text
        if isinstance(suggestion, SuggestedAction):  # what an SMS cannot do, it shows
            if isinstance(suggestion.action, OpenUrl):
                label = f"{label} ({suggestion.action.url})"
            elif isinstance(suggestion.action, Dial):
                label = f"{label} ({suggestion.action.phone_number})"
            elif suggestion.fallback_url is not None:
                label = f"{label} ({suggestion.fallback_url})"
        item = f"{number} for {label}"
        assert rest.startswith(item), (item, rest)
        rest = rest[len(item) :].removeprefix(", ")
    assert rest == ""


def test_a_reply_matches_a_suggestion_text_whatever_its_case() -> None:
    content = RichContent(text="Livraison demain ?", suggestions=[YES, NO])
    assert choice_from_sms_reply(content, "NON") == NO
    assert choice_from_sms_reply(content, " oui ") == YES
    assert choice_from_sms_reply(content, "peut-être") is None
    assert choice_from_sms_reply(content, "2 ou 1") is None


# The SMS rendering


def test_french_and_english_renderings() -> None:
    content = RichContent(text="Votre colis arrive demain. Ça vous va ?", suggestions=[YES, NO])
    assert render_sms(content) == (
        "Votre colis arrive demain. Ça vous va ?\nRépondez 1 pour Oui, 2 pour Non"
    )
    assert render_sms(content, "en") == (
        "Votre colis arrive demain. Ça vous va ?\nReply 1 for Oui, 2 for Non"
    )
    with pytest.raises(ValueError, match="language"):
        render_sms(content, "de")


def test_actions_show_their_link_or_number() -> None:
    content = RichContent(text="Où en est ma commande ?", suggestions=[TRACK, CALL])
    assert render_sms(content).splitlines()[-1] == (
        "Répondez 1 pour Suivre le colis (https://colis.example/t/42), "
        "2 pour Appeler (+33939000001)"
    )


def test_cards_render_as_title_description_link_and_their_chips_come_first() -> None:
    content = RichContent(
        carousel=[
            Card(
                title="Lampe Aube",
                description="Laiton, 40 cm",
                media_url="https://img.example/aube.jpg",
                suggestions=[SuggestedReply(text="Aube", postback_data="sku-1")],
            ),
            Card(
                title="Lampe Zénith",
                suggestions=[SuggestedReply(text="Zénith", postback_data="sku-2")],
            ),
        ],
        suggestions=[SuggestedReply(text="Aucune", postback_data="none")],
    )
    assert render_sms(content) == (
        "Lampe Aube — Laiton, 40 cm — https://img.example/aube.jpg\n"
        "Lampe Zénith\n"
        "Répondez 1 pour Aube, 2 pour Zénith, 3 pour Aucune"
    )
    assert [s.postback_data for s in sms_choices(content)] == ["sku-1", "sku-2", "none"]
    picked = choice_from_sms_reply(content, "2")
    assert picked is not None
    assert picked.postback_data == "sku-2"


def test_text_without_suggestions_is_just_the_text() -> None:
    assert render_sms(RichContent(text="Merci !")) == "Merci !"


# RBM's limits, refused with the field at fault


def test_text_longer_than_3072_characters() -> None:
    assert error_locations(refused(text="a" * 3073)) == [("text",)]
    assert RichContent(text="a" * 3072).text == "a" * 3072


def test_suggestion_text_longer_than_25_characters() -> None:
    too_long = {"kind": "reply", "text": "x" * 26, "postback_data": "p"}
    assert error_locations(refused(text="t", suggestions=[too_long])) == [
        ("suggestions", 0, "reply", "text")
    ]


def test_blank_suggestion_text() -> None:
    blank = {"kind": "reply", "text": "   ", "postback_data": "p"}
    assert error_locations(refused(text="t", suggestions=[blank])) == [
        ("suggestions", 0, "reply", "text")
    ]


def test_postback_data_longer_than_2048_characters() -> None:
    action = {"kind": "open_url", "url": "https://a.example"}
    too_long = {"kind": "action", "text": "Voir", "postback_data": "p" * 2049, "action": action}
    assert error_locations(refused(text="t", suggestions=[YES, too_long])) == [
        ("suggestions", 1, "action", "postback_data")
    ]


def test_more_than_11_suggestions() -> None:
    assert error_locations(refused(text="t", suggestions=[YES] * 12)) == [("suggestions",)]
    assert len(RichContent(text="t", suggestions=[YES] * 11).suggestions) == 11


def test_more_than_4_suggestions_on_a_card() -> None:
    card = {"title": "Lampe", "suggestions": [YES] * 5}
    assert error_locations(refused(card=card)) == [("card", "suggestions")]


def test_a_card_needs_a_title_a_description_or_media() -> None:
    exc = refused(card={"media_height": "TALL"})
    assert error_locations(exc) == [("card",)]
    assert "title, a description or a media_url" in str(exc)


def test_card_title_and_description_limits() -> None:
    card = {"title": "t" * 201, "description": "d" * 2001}
    assert error_locations(refused(card=card)) == [("card", "title"), ("card", "description")]


def test_a_carousel_has_2_to_10_cards() -> None:
    card = Card(title="Lampe")
    assert error_locations(refused(carousel=[card])) == [("carousel",)]
    assert error_locations(refused(carousel=[card] * 11)) == [("carousel",)]
    assert len(RichContent(carousel=[card] * 10).cards) == 10


def test_tall_media_does_not_fit_small_carousel_cards() -> None:
    tall = Card(title="Lampe", media_url="https://img.example/l.jpg", media_height=MediaHeight.TALL)
    exc = refused(carousel=[Card(title="a"), tall], card_width=CardWidth.SMALL)
    assert "carousel.1.media_height" in str(exc)
    assert RichContent(carousel=[Card(title="a"), tall], card_width=CardWidth.MEDIUM)


def test_exactly_one_of_text_card_or_carousel() -> None:
    assert "got text, card" in str(refused(text="t", card=Card(title="c")))
    assert "got none" in str(refused(suggestions=[YES]))


def test_thumbnail_alignment_belongs_to_a_horizontal_card() -> None:
    card = Card(title="c", media_url="https://img.example/c.jpg")
    assert "thumbnail_alignment" in str(
        refused(card=card, thumbnail_alignment=ThumbnailAlignment.LEFT)
    )
    horizontal = RichContent(
        card=card,
        card_orientation=CardOrientation.HORIZONTAL,
        thumbnail_alignment=ThumbnailAlignment.LEFT,
    )
    assert horizontal.thumbnail_alignment is ThumbnailAlignment.LEFT


def test_actions_check_their_own_fields() -> None:
    def action_error(action: dict[str, Any]) -> ValidationError:
        suggestion = {"kind": "action", "text": "Go", "postback_data": "go", "action": action}
        return refused(text="t", suggestions=[suggestion])

    assert error_locations(action_error({"kind": "dial", "phone_number": "06 12 34 56 78"})) == [
        ("suggestions", 0, "action", "action", "dial", "phone_number")
    ]
    assert error_locations(action_error({"kind": "open_url", "url": "ftp://x"})) == [
        ("suggestions", 0, "action", "action", "open_url", "url")
    ]
    both = {"kind": "view_location", "latitude": 48.85, "longitude": 2.35, "query": "Louvre"}
    assert "not both" in str(action_error(both))
    assert "not both" in str(action_error({"kind": "view_location", "latitude": 48.85}))
    start = datetime(2026, 5, 4, 9, tzinfo=UTC)
    with pytest.raises(ValidationError, match="end_time"):
        CreateCalendarEvent(start_time=start, end_time=start, title="RDV")
    ok = CreateCalendarEvent(start_time=start, end_time=start + timedelta(hours=1), title="RDV")
    assert ok.end_time > ok.start_time
    assert ViewLocation(query="Louvre").query == "Louvre"
