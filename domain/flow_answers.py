"""The kinds of answer a flow's question waits for, and how each reads a reply.

Each kind turns the consumer's text (or a tapped suggestion's postback) into one
normalised string — "yes", "3", "2026-12-25", "2026-12-25T14:30:00+01:00", a choice's
value — so that branches, stored attributes and the hand-off summary all compare and show
the same thing whichever words the consumer used.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chainon.domain import answers
from chainon.domain.flow_patterns import check
from chainon.domain.keywords import normalise
from chainon.domain.rich_content import (
    MAX_SUGGESTIONS,
    RichContent,
    SuggestedReply,
    choice_from_sms_reply,
)

MAX_TEXT_ANSWER = 1024  # a contact attribute's length
# The validation context of a version read back from the library: it was checked when
# published, and a check added since must not stop a dialogue running on it.
STORED = "stored"
MAX_DAYS = 3650


class Unreadable(Exception):
    """The reply is not an answer of this kind; ``reason`` says what was expected."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Reply(BaseModel):
    """What the consumer sent, with what the engine knows of the moment and the place."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    text: str
    postback: str | None = None
    now: datetime
    zone: ZoneInfo
    month_first: bool = False


class _Kind(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChoiceOption(_Kind):
    value: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    label: Annotated[str, Field(min_length=1, max_length=25)]


class ChoiceAnswer(_Kind):
    """One of the listed options: RCS suggested replies, SMS or email numbered lines."""

    kind: Literal["choice"] = "choice"
    choices: Annotated[list[ChoiceOption], Field(min_length=2, max_length=MAX_SUGGESTIONS)]

    @field_validator("choices")
    @classmethod
    def _distinct(cls, choices: list[ChoiceOption]) -> list[ChoiceOption]:
        values = [c.value for c in choices]
        if len(set(values)) != len(values):
            raise ValueError("each choice needs its own value")
        return choices

    def content(self, text: str) -> RichContent:
        suggestions = [SuggestedReply(text=c.label, postback_data=c.value) for c in self.choices]
        return RichContent(text=text, suggestions=suggestions)

    def read(self, reply: Reply) -> str:
        values = {c.value for c in self.choices}
        if reply.postback in values:
            return reply.postback
        picked = choice_from_sms_reply(self.content("?"), reply.text)
        if picked is not None:
            return picked.postback_data
        words = normalise(reply.text)
        by_value = {normalise(c.value): c.value for c in self.choices}
        # The label's first words are enough when they fit one choice only ("matin").
        starting = [
            c.value for c in self.choices if f"{normalise(c.label)} ".startswith(f"{words} ")
        ]
        found = by_value.get(words) or (starting[0] if words and len(starting) == 1 else None)
        if found is None:
            raise Unreadable(f"one of the {len(self.choices)} choices, by number")
        return found

    def can_be(self, value: str) -> bool:
        return value in {c.value for c in self.choices}


class NumberAnswer(_Kind):
    kind: Literal["number"] = "number"
    min: Decimal
    max: Decimal
    integer: bool = True

    @model_validator(mode="after")
    def _sane(self) -> NumberAnswer:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self

    def read(self, reply: Reply) -> str:
        value = answers.number(reply.text)
        wanted = f"a {'whole ' if self.integer else ''}number from {self.min} to {self.max}"
        if value is None or not self.min <= value <= self.max:
            raise Unreadable(wanted)
        if self.integer and value != value.to_integral_value():
            raise Unreadable(wanted)
        return answers.number_text(value)

    def can_be(self, value: str) -> bool:
        found = answers.number(value)
        return found is not None and self.min <= found <= self.max


class YesNoAnswer(_Kind):
    kind: Literal["yes_no"] = "yes_no"

    def read(self, reply: Reply) -> str:
        said = answers.yes_no(reply.postback or reply.text)
        if said is None:
            raise Unreadable("yes or no")
        return "yes" if said else "no"

    def can_be(self, value: str) -> bool:
        return value in {"yes", "no"}


class DateAnswer(_Kind):
    """A day, counted from the day the reply came, in the flow's zone."""

    kind: Literal["date"] = "date"
    min_days_ahead: Annotated[int, Field(ge=-MAX_DAYS, le=MAX_DAYS)] = 0
    max_days_ahead: Annotated[int, Field(ge=-MAX_DAYS, le=MAX_DAYS)] = 365

    @model_validator(mode="after")
    def _sane(self) -> DateAnswer:
        if self.min_days_ahead > self.max_days_ahead:
            raise ValueError("min_days_ahead must not exceed max_days_ahead")
        return self

    def read(self, reply: Reply) -> str:
        today = reply.now.astimezone(reply.zone).date()
        found = answers.day(reply.text, today, month_first=reply.month_first)
        first = today + timedelta(days=self.min_days_ahead)
        last = today + timedelta(days=self.max_days_ahead)
        if found is None or not first <= found <= last:
            raise Unreadable(f"a day from {first:%d/%m/%Y} to {last:%d/%m/%Y}")
        return found.isoformat()

    def can_be(self, value: str) -> bool:
        return True


class DateTimeAnswer(_Kind):
    """A day and a time in the flow's zone, optionally within opening hours."""

    kind: Literal["datetime"] = "datetime"
    min_days_ahead: Annotated[int, Field(ge=-MAX_DAYS, le=MAX_DAYS)] = 0
    max_days_ahead: Annotated[int, Field(ge=-MAX_DAYS, le=MAX_DAYS)] = 365
    opens: time | None = None
    closes: time | None = None

    @model_validator(mode="after")
    def _sane(self) -> DateTimeAnswer:
        if self.min_days_ahead > self.max_days_ahead:
            raise ValueError("min_days_ahead must not exceed max_days_ahead")
        if (self.opens is None) != (self.closes is None):
            raise ValueError("give both opens and closes, or neither")
        if self.opens is not None and self.closes is not None and self.opens >= self.closes:
            raise ValueError("opens must be before closes")
        return self

    def read(self, reply: Reply) -> str:
        found = answers.moment(reply.text, reply.now, reply.zone, month_first=reply.month_first)
        today = reply.now.astimezone(reply.zone).date()
        first = today + timedelta(days=self.min_days_ahead)
        last = today + timedelta(days=self.max_days_ahead)
        wanted = f"a day from {first:%d/%m/%Y} to {last:%d/%m/%Y} and a time, as 25/12 14h30"
        if found is None or not first <= found.date() <= last or found <= reply.now:
            raise Unreadable(wanted)
        if self.opens and self.closes and not self.opens <= found.time() <= self.closes:
            raise Unreadable(f"a time from {self.opens:%H:%M} to {self.closes:%H:%M}")
        return found.isoformat()

    def can_be(self, value: str) -> bool:
        return True


class TextAnswer(_Kind):
    """Free text; a reply that is one of ``skip_words`` is an empty answer (an optional
    comment the consumer declined)."""

    kind: Literal["text"] = "text"
    max_length: Annotated[int, Field(ge=1, le=MAX_TEXT_ANSWER)] = 500
    skip_words: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32)]], Field(max_length=20)
    ] = []

    def read(self, reply: Reply) -> str:
        text = reply.text.strip()
        if normalise(text) in {normalise(w) for w in self.skip_words}:
            return ""
        if not text or len(text) > self.max_length:
            raise Unreadable(f"some text, at most {self.max_length} characters")
        return text

    def can_be(self, value: str) -> bool:
        return True


class PatternAnswer(_Kind):
    """Text matching a regular expression in full (an order number, a postcode)."""

    kind: Literal["regex"] = "regex"
    pattern: Annotated[str, Field(min_length=1, max_length=500)]
    ignore_case: bool = False
    hint: Annotated[str, Field(max_length=200)] = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str, info: ValidationInfo) -> str:
        try:
            if (info.context or {}).get(STORED):
                re.compile(pattern)
            else:
                check(pattern)  # compiles it, and refuses what could backtrack for hours
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return pattern

    def read(self, reply: Reply) -> str:
        flags = re.IGNORECASE if self.ignore_case else 0
        text = reply.text.strip()
        if len(text) > MAX_TEXT_ANSWER or re.fullmatch(self.pattern, text, flags) is None:
            raise Unreadable(self.hint or "an answer of the expected form")
        return text

    def can_be(self, value: str) -> bool:
        return True


Answer = Annotated[
    ChoiceAnswer | NumberAnswer | YesNoAnswer | DateAnswer | DateTimeAnswer | TextAnswer
    | PatternAnswer,
    Field(discriminator="kind"),
]  # fmt: skip
