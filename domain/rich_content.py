"""A brand's rich message (RBM suggestions, rich cards, carousels) and its SMS degradation.

The shapes and limits are those of RBM's ``AgentContentMessage``: checking them here refuses
a message when the brand sends it, with the field at fault, rather than at the provider
after it was queued. When the message falls back to SMS, it is rendered as text with
numbered choices, and a consumer's "2" is read back as the second suggestion, so a chatbot
flow keeps working whichever channel carried the question.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from chainon.domain.message_body import MAX_RCS_CHARACTERS
from chainon.domain.plain_text import PlainText

# RBM's limits (phones.agentMessages reference).
MAX_SUGGESTION_TEXT = 25
MAX_POSTBACK_DATA = 2048
MAX_SUGGESTIONS = 11
MAX_CARD_SUGGESTIONS = 4
MAX_CARD_TITLE = 200
MAX_CARD_DESCRIPTION = 2000
MIN_CAROUSEL_CARDS = 2
MAX_CAROUSEL_CARDS = 10
MAX_URL = 2048

Url = Annotated[PlainText, Field(max_length=MAX_URL, pattern=r"^https?://\S+$")]
E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{1,14}$")]
SuggestionText = Annotated[PlainText, Field(max_length=MAX_SUGGESTION_TEXT, pattern=r"\S")]
PostbackData = Annotated[PlainText, Field(min_length=1, max_length=MAX_POSTBACK_DATA)]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenUrl(_Shape):
    kind: Literal["open_url"] = "open_url"
    url: Url


class Dial(_Shape):
    kind: Literal["dial"] = "dial"
    phone_number: E164


class ViewLocation(_Shape):
    """A pin (latitude, longitude, optional label) or a search query, as RBM takes it."""

    kind: Literal["view_location"] = "view_location"
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    label: Annotated[PlainText, Field(min_length=1, max_length=100)] | None = None
    query: Annotated[PlainText, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _pin_or_query(self) -> ViewLocation:
        pin = self.latitude is not None and self.longitude is not None
        half_pin = (self.latitude is None) != (self.longitude is None)
        if half_pin or pin == (self.query is not None):
            raise ValueError("give latitude and longitude, or a query, not both")
        if self.label is not None and not pin:
            raise ValueError("label: only a pin (latitude, longitude) takes a label")
        return self


class ShareLocation(_Shape):
    kind: Literal["share_location"] = "share_location"


class CreateCalendarEvent(_Shape):
    kind: Literal["create_calendar_event"] = "create_calendar_event"
    start_time: AwareDatetime
    end_time: AwareDatetime
    title: Annotated[PlainText, Field(min_length=1, max_length=100)]
    description: Annotated[PlainText, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _ends_after_start(self) -> CreateCalendarEvent:
        if self.end_time <= self.start_time:
            raise ValueError("end_time: must be after start_time")
        return self


Action = Annotated[
    OpenUrl | Dial | ViewLocation | ShareLocation | CreateCalendarEvent,
    Field(discriminator="kind"),
]


class SuggestedReply(_Shape):
    """A chip whose text is sent back as the consumer's answer."""

    kind: Literal["reply"] = "reply"
    text: SuggestionText
    postback_data: PostbackData


class SuggestedAction(_Shape):
    """A chip that opens something on the handset (a page, the dialer, a map...)."""

    kind: Literal["action"] = "action"
    text: SuggestionText
    postback_data: PostbackData
    action: Action
    fallback_url: Url | None = None  # for clients that cannot perform the action


Suggestion = Annotated[SuggestedReply | SuggestedAction, Field(discriminator="kind")]


class MediaHeight(StrEnum):
    SHORT = "SHORT"
    MEDIUM = "MEDIUM"
    TALL = "TALL"


class CardWidth(StrEnum):
    SMALL = "SMALL"
    MEDIUM = "MEDIUM"


class CardOrientation(StrEnum):
    VERTICAL = "VERTICAL"
    HORIZONTAL = "HORIZONTAL"


class ThumbnailAlignment(StrEnum):
    LEFT = "LEFT"
    RIGHT = "RIGHT"


class Card(_Shape):
    title: Annotated[PlainText, Field(min_length=1, max_length=MAX_CARD_TITLE)] | None = None
    description: (
        Annotated[PlainText, Field(min_length=1, max_length=MAX_CARD_DESCRIPTION)] | None
    ) = None
    media_url: Url | None = None
    media_height: MediaHeight = MediaHeight.MEDIUM
    suggestions: list[Suggestion] = Field(default_factory=list, max_length=MAX_CARD_SUGGESTIONS)

    @model_validator(mode="after")
    def _not_empty(self) -> Card:
        if self.title is None and self.description is None and self.media_url is None:
            raise ValueError("a card needs a title, a description or a media_url")
        return self


class RichContent(_Shape):
    """One RBM content message: text, a standalone card or a carousel (RBM's
    ``contentMessage`` is a union, so exactly one of them), plus suggestion chips."""

    text: Annotated[PlainText, Field(min_length=1, max_length=MAX_RCS_CHARACTERS)] | None = None
    card: Card | None = None
    card_orientation: CardOrientation = CardOrientation.VERTICAL
    thumbnail_alignment: ThumbnailAlignment | None = None  # horizontal cards only
    card_width: CardWidth = CardWidth.MEDIUM
    carousel: (
        Annotated[list[Card], Field(min_length=MIN_CAROUSEL_CARDS, max_length=MAX_CAROUSEL_CARDS)]
        | None
    ) = None
    suggestions: list[Suggestion] = Field(default_factory=list, max_length=MAX_SUGGESTIONS)

    @model_validator(mode="after")
    def _one_content(self) -> RichContent:
        contents = {"text": self.text, "card": self.card, "carousel": self.carousel}
        given = [name for name, value in contents.items() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "exactly one of text, card or carousel (RBM's contentMessage is a union); "
                f"got {', '.join(given) or 'none'}"
            )
        if self.thumbnail_alignment is not None and (
            self.card is None or self.card_orientation is not CardOrientation.HORIZONTAL
        ):
            raise ValueError("thumbnail_alignment: only a horizontal standalone card takes one")
        for index, card in enumerate(self.carousel or []):
            # RBM: tall media is not available when the carousel's cards are small.
            if self.card_width is CardWidth.SMALL and card.media_height is MediaHeight.TALL:
                raise ValueError(
                    f"carousel.{index}.media_height: TALL does not fit a SMALL card_width"
                )
        return self

    @property
    def cards(self) -> list[Card]:
        if self.card is not None:
            return [self.card]
        return list(self.carousel or [])


# SMS degradation

_PROMPTS: dict[str, tuple[str, str]] = {
    "fr": ("Répondez {choices}", "{number} pour {label}"),
    "en": ("Reply {choices}", "{number} for {label}"),
}
_NUMBERED_REPLY = re.compile(r"\s*([0-9]{1,3})\s*[.)]?\s*")


def sms_choices(content: RichContent) -> list[Suggestion]:
    """Every suggestion in reading order (the cards' chips, then the message's), which
    is the order they are numbered in on SMS."""
    return [*(s for card in content.cards for s in card.suggestions), *content.suggestions]


def render_sms(content: RichContent, language: str = "fr") -> str:
    """The text, then each card as "title — description — link", then the numbered
    choices; an action that opens a page or dials shows its link or number, since an SMS
    cannot perform it."""
    if language not in _PROMPTS:
        raise ValueError(f"language: {language!r} is not one of {', '.join(_PROMPTS)}")
    prompt, item = _PROMPTS[language]
    lines = [content.text] if content.text is not None else []
    for card in content.cards:
        lines.append(" — ".join(p for p in (card.title, card.description, card.media_url) if p))
    choices = sms_choices(content)
    if choices:
        numbered = (
            item.format(number=number, label=_label(choice))
            for number, choice in enumerate(choices, start=1)
        )
        lines.append(prompt.format(choices=", ".join(numbered)))
    return "\n".join(lines)


def choice_from_sms_reply(content: RichContent, reply_text: str) -> Suggestion | None:
    """The suggestion an SMS reply picks: its number ("2", " 2 ", "2." or "2)"), or else
    its exact text, case aside. A number wins over a suggestion whose text is a number,
    since the numbers are what the SMS showed."""
    choices = sms_choices(content)
    numbered = _NUMBERED_REPLY.fullmatch(reply_text)
    if numbered is not None:
        number = int(numbered[1])
        return choices[number - 1] if 1 <= number <= len(choices) else None
    wanted = reply_text.strip().casefold()
    return next((c for c in choices if c.text.strip().casefold() == wanted), None)


def _label(suggestion: Suggestion) -> str:
    if isinstance(suggestion, SuggestedReply):
        return suggestion.text
    action = suggestion.action
    if isinstance(action, OpenUrl):
        return f"{suggestion.text} ({action.url})"
    if isinstance(action, Dial):
        return f"{suggestion.text} ({action.phone_number})"
    if suggestion.fallback_url is not None:
        return f"{suggestion.text} ({suggestion.fallback_url})"
    return suggestion.text
