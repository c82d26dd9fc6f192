"""A brand's routing rules: which team takes a conversation a bot hands on, and how urgently.

One document per brand, set whole (``PUT /v1/routing``) and recorded on the brand with who
set it. Rules are read in order and the first whose every criterion holds wins; a
criterion lists values of which any may hold, and a rule without criteria always holds
(a catch-all written last). No rule holds: the document's ``default`` when it has one,
else the team and priority the flow itself names, so a brand that never set rules routes
as its flows say.

The decision is a function of what is known at the hand-off (``Situation``): who wrote
and to which address, what they wrote (its keywords and its language), the contact's
attributes, and which flow handed on and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chainon.domain.contact import ATTRIBUTE_KEY
from chainon.domain.conversation import Conversation
from chainon.domain.flow import Name, Priority, Team
from chainon.domain.keywords import normalise
from chainon.domain.language import Detected, detect_all
from chainon.domain.plain_text import PlainText

MAX_RULES = 100
MAX_VALUES = 50
Outcome = Literal["step", "keyword", "failure", "timeout"]  # why the bot handed on
Glob = Annotated[PlainText, Field(min_length=1, max_length=320)]
Keyword = Annotated[PlainText, Field(min_length=1, max_length=64)]
AttributeKey = Annotated[str, Field(pattern=ATTRIBUTE_KEY.pattern)]
AttributeValue = Annotated[PlainText, Field(max_length=1024)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criteria(_Document):
    """Every criterion given must hold; within one, any of its values."""

    sender: list[Glob] = Field(
        default_factory=list,
        max_length=MAX_VALUES,
        description="The consumer's address, `*` standing for any characters: `+336*`, "
        "`*@example.com` (case aside).",
    )
    recipient: list[Glob] = Field(
        default_factory=list,
        max_length=MAX_VALUES,
        description="The brand's address the consumer wrote to (a number, an email, an RCS "
        "agent), `*` allowed.",
    )
    keywords: list[Keyword] = Field(
        default_factory=list,
        max_length=MAX_VALUES,
        description="A word or words the consumer wrote in the conversation (case, accents "
        "and punctuation aside): `remboursement`, `refund`.",
    )
    language: list[Detected] = Field(
        default_factory=list,
        description="The language detected in the consumer's messages (`fr`, `en`).",
    )
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict,
        max_length=MAX_VALUES,
        description="Contact attributes and the value each must have; `*`: any value, as "
        "long as it is set.",
    )
    flow: list[Name] = Field(
        default_factory=list, max_length=MAX_VALUES, description="The flow that handed on."
    )
    outcome: list[Outcome] = Field(
        default_factory=list,
        description="Why the flow handed on: `step` (a hand-off step), `keyword` (the "
        "consumer asked for a person), `failure` (answers kept failing), `timeout`.",
    )


class Target(_Document):
    team: Team
    priority: Priority = "normal"


class Rule(Target):
    name: Annotated[PlainText, Field(max_length=100)] = ""
    when: Criteria = Criteria()


class RoutingRules(_Document):
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)
    default: Target | None = Field(
        None, description="When no rule holds; absent: the team the flow names."
    )


NO_RULES = RoutingRules()


@dataclass(frozen=True)
class Situation:
    """What is known of a conversation when the bot hands it on."""

    sender: str | None = None
    recipient: str | None = None
    texts: tuple[str, ...] = ()  # the consumer's messages, oldest first
    language: str | None = None
    attributes: Mapping[str, str] | None = None
    flow: str | None = None
    outcome: str | None = None


def situation_of(
    conversation: Conversation,
    attributes: Mapping[str, str],
    *,
    flow: str | None = None,
    outcome: str | None = None,
) -> Situation:
    """What the conversation tells of its consumer: the latest messages they wrote (not
    an auto-reply's), who wrote them and to which address, and in which language."""
    written = [conversation.messages[i] for i in reversed(conversation.written_lately)]
    texts = tuple(m.body for m in reversed(written))
    last = written[0] if written else None
    return Situation(
        sender=last.sender if last else None,
        recipient=last.recipient if last else None,
        texts=texts,
        language=detect_all(texts),
        attributes=dict(attributes),
        flow=flow,
        outcome=outcome,
    )


@dataclass(frozen=True)
class Route:
    team: str
    priority: str
    rule: int | None  # the rule's index; None for the document's default


def route(rules: RoutingRules, situation: Situation) -> Route | None:
    """The first rule that holds, else the default; None: the flow's own target."""
    for index, rule in enumerate(rules.rules):
        if holds(rule.when, situation):
            return Route(rule.team, rule.priority, index)
    if rules.default is not None:
        return Route(rules.default.team, rules.default.priority, None)
    return None


def holds(when: Criteria, situation: Situation) -> bool:
    attributes = situation.attributes or {}
    return (
        _globbed(when.sender, situation.sender)
        and _globbed(when.recipient, situation.recipient)
        and (not when.keywords or any(_wrote(k, situation.texts) for k in when.keywords))
        and _among(when.language, situation.language)
        and all(_has(attributes.get(k), v) for k, v in when.attributes.items())
        and _among(when.flow, situation.flow)
        and _among(when.outcome, situation.outcome)
    )


def _among(wanted: list[str] | list[Outcome] | list[Detected], given: str | None) -> bool:
    return not wanted or given in wanted


def _globbed(patterns: list[str], given: str | None) -> bool:
    if not patterns:
        return True
    return given is not None and any(fnmatchcase(given.lower(), p.lower()) for p in patterns)


def _wrote(keyword: str, texts: tuple[str, ...]) -> bool:
    words = normalise(keyword)
    return bool(words) and any(f" {words} " in f" {normalise(text)} " for text in texts)


def _has(value: str | None, wanted: str) -> bool:
    return value is not None and (wanted == "*" or value == wanted)
