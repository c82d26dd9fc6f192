"""A brand's consent settings: its own keywords, its own words back, its own quiet hours,
and how far an opt-out reaches.

One document, set whole (``PUT /v1/consent/settings``) and recorded on the brand with who
set it. What a brand leaves out keeps the shipped default, so a brand that never set
anything decides as before. The limits are the law's, not the brand's:

- a brand adds keywords and removes defaults, but never the opt-out words the rules name
  (``STOP``, ``STOP SMS``, ``ARRET``, ``STOPALL``, ``STOP ALL``, ``UNSUBSCRIBE``): a
  consumer must always find the way out a marketing SMS advertises;
- a confirmation of an opt-out or opt-in carries no marketing content: no link;
- quiet hours narrow the country's window; a wider one needs an explicit override with a
  reason, which the brand's history keeps with the API key that asked.

A removed default is no keyword at all: a message that is only that word neither acts as
a keyword nor is read as a loose opt-out (the brand said what the word means to it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chainon.domain.consent import Scope
from chainon.domain.errors import InvalidInput
from chainon.domain.keywords import (
    DEFAULT_LISTS,
    MAX_KEYWORD_LENGTH,
    KeywordAction,
    KeywordBook,
    KeywordList,
    normalise,
)
from chainon.domain.marketing_rules import MAX_BRAND_NAME_IN_TEXT, confirmation
from chainon.domain.plain_text import PlainText
from chainon.domain.quiet_hours import POLICIES, QuietHoursPolicy

PROTECTED = frozenset(
    normalise(word) for word in ("STOP", "STOP SMS", "ARRET", "STOPALL", "STOP ALL", "UNSUBSCRIBE")
)
MAX_TEXT = 480  # three GSM segments: a help text names a number, hours, a site
MAX_WORDS = 50
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A link is how marketing rides along; a confirmation says what changed and how to undo it.
LINK = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(com|fr|net|org|io|co|ly|gl)\b/?", re.I)
BRAND_PLACEHOLDER = "{brand}"

Language = Literal["fr", "en"]
CountryCode = Literal["FR", "US"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Word = Annotated[PlainText, Field(min_length=1, max_length=2 * MAX_KEYWORD_LENGTH)]
Text = Annotated[PlainText, Field(min_length=1, max_length=MAX_TEXT)]


def _wall_clock(value: time) -> time:
    """A window is read in each recipient's own time zone: an offset would name one zone."""
    if value.tzinfo is not None:
        raise ValueError("a local time without offset (HH:MM), read in the recipient's zone")
    return value


LocalTime = Annotated[
    time,
    AfterValidator(_wall_clock),
    Field(description="A wall-clock time (`HH:MM`), without offset."),
]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WordChanges(_Document):
    add: list[Word] = Field(default_factory=list, max_length=MAX_WORDS)
    remove: list[Word] = Field(
        default_factory=list,
        max_length=MAX_WORDS,
        description="Defaults of this language and action that no longer act; the opt-out "
        "words the rules name (STOP, STOP SMS, ARRET, STOPALL, STOP ALL, UNSUBSCRIBE) stay.",
    )


class LanguageKeywords(_Document):
    opt_out: WordChanges = WordChanges()
    opt_out_all: WordChanges = WordChanges()
    opt_in: WordChanges = WordChanges()
    help: WordChanges = WordChanges()


class Texts(_Document):
    """The brand's words back, ``{brand}`` standing for its name; absent: the default."""

    opt_out: Text | None = None
    opt_out_all: Text | None = None
    opt_in: Text | None = None
    help: Text | None = None


class Override(_Document):
    reason: Annotated[PlainText, Field(min_length=1, max_length=500)]


class Window(_Document):
    """The brand's window for marketing in one country, in the recipient's local time."""

    opens: LocalTime | None = None
    closes: LocalTime | None = None
    days: list[Day] | None = Field(None, description="The days it is open; absent: the country's.")
    override: Override | None = Field(
        None, description="Needed (with its reason) for a window wider than the country's."
    )


class ConsentSettings(_Document):
    append_opt_out_mention: bool = Field(
        False,
        description="Append the country's opt-out mention (FR `STOP au <number>`, US `Reply "
        "STOP to opt out`) to a marketing SMS that lacks it, instead of refusing it (422).",
    )
    opt_out_scope: Scope = Field(
        Scope.ALL_CHANNELS,
        description="`all_channels` (the default): an opt-out on any channel stops marketing "
        "on every channel of the brand; `channel`: on the channel it came on only.",
    )
    keywords: dict[Language, LanguageKeywords] = Field(default_factory=dict)
    texts: dict[Language, Texts] = Field(default_factory=dict)
    quiet_hours: dict[CountryCode, Window] = Field(default_factory=dict)


@dataclass(frozen=True)
class ConsentRules:
    """The settings as the decisions use them, checked."""

    book: KeywordBook
    removed: frozenset[str]  # normalised words a brand took away: no keyword, no loose read
    texts: Mapping[str, Texts]
    quiet_hours: Mapping[str, QuietHoursPolicy]
    scope: Scope

    def reply(self, kind: str, language: str, brand_name: str, help_text: str = "") -> str:
        """The brand's text for ``kind`` in ``language``; for help, the one given at
        registration comes before the shipped default."""
        own = self.texts.get(language)
        text: str | None = getattr(own, kind) if own is not None else None
        if text is None and kind == "help" and help_text:
            return help_text
        if text is None:
            return confirmation(kind, brand_name, language)
        return text.replace(BRAND_PLACEHOLDER, brand_name[:MAX_BRAND_NAME_IN_TEXT])

    def quiet_hours_for(self, country: str) -> QuietHoursPolicy | None:
        return self.quiet_hours.get(country)


def rules_of(settings: ConsentSettings) -> ConsentRules:
    """Checks the document against the law's limits, naming the field at fault."""
    book, removed = _book(settings.keywords)
    for language, texts in settings.texts.items():
        for kind in ("opt_out", "opt_out_all", "opt_in"):
            text = getattr(texts, kind)
            if text is not None and LINK.search(text):
                raise InvalidInput(
                    "a confirmation carries no marketing content: no link",
                    field=f"texts.{language}.{kind}",
                )
    windows = {
        str(country): _window(country, window) for country, window in settings.quiet_hours.items()
    }
    replies = {str(language): own for language, own in settings.texts.items()}
    return ConsentRules(book, removed, replies, windows, settings.opt_out_scope)


def _book(keywords: Mapping[Language, LanguageKeywords]) -> tuple[KeywordBook, frozenset[str]]:
    lists = dict(DEFAULT_LISTS)
    taken: set[str] = set()
    for language, own in sorted(keywords.items()):
        words = dict(lists[language].words)
        for action in KeywordAction:
            field = f"keywords.{language}.{action.value}.remove"
            for raw in getattr(own, action.value).remove:
                word = normalise(raw)
                if word in PROTECTED:
                    raise InvalidInput(
                        f"{raw!r} is an opt-out keyword the rules require: it cannot be removed",
                        field=field,
                    )
                if word not in words.get(action, frozenset()):
                    raise InvalidInput(
                        f"{raw!r} is not a default {action.value} keyword in {language!r}",
                        field=field,
                    )
                words[action] = words[action] - {word}
                taken.add(word)
        lists[language] = KeywordList(words)
    book = KeywordBook(lists)
    for language, own in sorted(keywords.items()):
        for action in KeywordAction:
            added = getattr(own, action.value).add
            if not added:
                continue
            try:
                book = book.extended(language, action, added)
            except InvalidInput as exc:
                raise InvalidInput(
                    exc.detail, field=f"keywords.{language}.{action.value}.add"
                ) from None
    return book, frozenset(w for w in taken if book.keyword_of(w) is None)


def _window(country: str, window: Window) -> QuietHoursPolicy:
    base = POLICIES[country]
    days = [DAYS.index(day) for day in window.days] if window.days is not None else None
    if days is not None and not days:
        raise InvalidInput("at least one day", field=f"quiet_hours.{country}.days")
    try:
        return base.narrowed(
            opens=window.opens,
            closes=window.closes,
            days=days,
            override=window.override is not None,
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, field=f"quiet_hours.{country}") from None


DEFAULT_SETTINGS = ConsentSettings()
DEFAULT_RULES = rules_of(DEFAULT_SETTINGS)
