"""A bot flow: the questions a brand's bot asks, what it does with the answers, and when
it hands the consumer to a person.

A flow is a document the brand writes (YAML, see ``chainon.flow_documents``) and
publishes; a dialogue runs on one published version to its end. ``parse`` refuses a
document with every fault located by its path (``steps[2].answer.max``), so the loader can
name the line: a typo in a ``next`` is caught when the flow is published, not when a
consumer reaches that step. A step nobody can reach is refused too — it is nearly always a
``next`` that names the wrong step.

Steps run in the order listed unless a ``next`` or a branch says otherwise; a flow that
runs past its last step is complete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chainon.domain.contact import ATTRIBUTE_KEY
from chainon.domain.errors import InvalidInput
from chainon.domain.flow_answers import STORED, Answer
from chainon.domain.keywords import normalise

DEFAULT_HANDOFF_KEYWORDS = ("AGENT", "CONSEILLER", "HUMAIN", "PERSON")
MAX_STEPS = 100
MAX_TEXT = 1000
MAX_REPROMPTS = 5
MAX_TIMEOUT_MINUTES = 30 * 24 * 60
MAX_LIST = 20  # branches, keywords, values of a branch: a flow is written by hand

Language = Literal["fr", "en"]
Name = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
StepId = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
Team = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
Priority = Literal["low", "normal", "high", "urgent"]
TextOf = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Text = TextOf | dict[Language, TextOf]  # one text, or one per language of the flow
Location = tuple[str | int, ...]
Keyword = Annotated[str, Field(min_length=1, max_length=32)]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timeout(_Doc):
    """How long the bot waits for an answer, and what then: a person, or the end."""

    after_minutes: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_MINUTES)] = 24 * 60
    action: Literal["handoff", "close"] = "handoff"


class HandoffTarget(_Doc):
    team: Team = "support"
    priority: Priority = "normal"


class Settings(_Doc):
    timeout: Timeout = Timeout()
    handoff_keywords: Annotated[list[Keyword], Field(min_length=1, max_length=MAX_LIST)] = list(
        DEFAULT_HANDOFF_KEYWORDS
    )
    languages: Annotated[list[Language], Field(min_length=1, max_length=2)] = ["fr"]
    time_zone: str = "Europe/Paris"
    month_first: bool = False  # 12/25 as in the US, rather than 25/12
    handoff: HandoffTarget = HandoffTarget()  # for a keyword, a timeout, answers that fail
    on_failure: Literal["handoff", "end"] = "handoff"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not an IANA time zone (Europe/Paris...)") from None
        return zone

    @field_validator("languages")
    @classmethod
    def _distinct(cls, languages: list[Language]) -> list[Language]:
        if len(set(languages)) != len(languages):
            raise ValueError("list each language once")
        return languages

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_handoff_keyword(self, text: str) -> bool:
        return normalise(text) in {normalise(k) for k in self.handoff_keywords}


class Triggers(_Doc):
    """What starts the flow without an API call: a consumer's message that is one of
    ``keywords``, or the first message of a new conversation written to one of the brand's
    ``senders`` (an address of the brand: a number, a short code, an email); with
    ``resolution``, an agent resolving a conversation (a satisfaction survey): the
    question reopens it, and it is resolved again once the flow completes or closes;
    with ``campaign_reply``, the consumer's answer to a campaign's message (the last the
    conversation sent): ``"*"`` for any campaign, or the campaigns' names or ids."""

    keywords: Annotated[list[Keyword], Field(max_length=MAX_LIST)] = []
    senders: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=320)]], Field(max_length=MAX_LIST)
    ] = []

    resolution: bool = False
    campaign_reply: (
        Annotated[str, Field(min_length=1, max_length=200)]
        | Annotated[
            list[Annotated[str, Field(min_length=1, max_length=200)]],
            Field(min_length=1, max_length=MAX_LIST),
        ]
        | None
    ) = None

    def on_campaign_reply(self, campaign_id: str, name: str) -> bool:
        """Whether a reply to that campaign starts the flow (names: case aside)."""
        given = self.campaign_reply
        wanted = [given] if isinstance(given, str) else (given or [])
        return any(w == "*" or w == campaign_id or w.casefold() == name.casefold() for w in wanted)

    def on_keyword(self, text: str) -> bool:
        return normalise(text) in {normalise(k) for k in self.keywords}

    def on_sender(self, address: str) -> bool:
        return address.strip().lower() in {s.strip().lower() for s in self.senders}


class Branch(_Doc):
    """Where an answer leads: ``when`` is a value (or several) of the normalised answer."""

    when: str | int | Annotated[list[str | int], Field(min_length=1, max_length=MAX_LIST)]
    next: StepId

    @property
    def values(self) -> tuple[str, ...]:
        given = self.when if isinstance(self.when, list) else [self.when]
        return tuple(str(v) for v in given)


class Ask(_Doc):
    id: StepId
    type: Literal["ask"]
    text: Text
    answer: Answer
    store_as: Annotated[str, Field(pattern=ATTRIBUTE_KEY.pattern)] | None = None
    max_reprompts: Annotated[int, Field(ge=0, le=MAX_REPROMPTS)] = 2
    reprompt: Text | None = None
    branches: Annotated[list[Branch], Field(max_length=MAX_LIST)] = []
    next: StepId | None = None


class Say(_Doc):
    id: StepId
    type: Literal["say"]
    text: Text
    next: StepId | None = None


class Handoff(_Doc):
    id: StepId
    type: Literal["handoff"]
    team: Team | None = None  # the flow's hand-off team when absent
    priority: Priority | None = None
    text: Text | None = None  # told the consumer before a person takes over
    summary: Text | None = None  # for the agent; the collected answers when absent


class End(_Doc):
    id: StepId
    type: Literal["end"]
    text: Text | None = None


Step = Annotated[Ask | Say | Handoff | End, Field(discriminator="type")]


@dataclass(frozen=True)
class Fault:
    """One thing wrong in a document, at ``location`` (``("steps", 2, "next")``)."""

    location: Location
    message: str

    @property
    def field(self) -> str:
        name = ""
        for part in self.location:
            name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
        return name


class InvalidFlow(InvalidInput):
    """Every fault of a document, the first one as the error's field."""

    def __init__(self, faults: list[Fault]) -> None:
        first = faults[0]
        super().__init__(f"{first.field or 'the flow'}: {first.message}", field=first.field)
        self.faults = faults


class FlowDocument(_Doc):
    name: Name
    description: Annotated[str, Field(max_length=500)] = ""
    settings: Settings = Settings()
    triggers: Triggers = Triggers()
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS)]

    def step(self, step_id: str) -> Ask | Say | Handoff | End:
        return next(s for s in self.steps if s.id == step_id)

    def after(self, step: Ask | Say) -> str | None:
        """The step that follows ``step`` when no branch applies: its ``next``, else the
        one listed after it, else none (the flow is complete)."""
        if step.next is not None:
            return step.next
        index = self.steps.index(step)
        return self.steps[index + 1].id if index + 1 < len(self.steps) else None

    def templates(self) -> Iterator[tuple[Location, str]]:
        """Every text of the document with its location: each is a template."""
        for index, step in enumerate(self.steps):
            for field in ("text", "reprompt", "summary"):
                given = getattr(step, field, None)
                if isinstance(given, str):
                    yield ("steps", index, field), given
                elif isinstance(given, dict):
                    for language, text in given.items():
                        yield ("steps", index, field, language), text

    def canonical(self) -> dict[str, Any]:
        """The document with every default spelt out: two spellings of one flow are one.
        A trigger added since flows were first published is left out while unset, so a
        flow published before hashes as it did."""
        canonical = self.model_dump(mode="json")
        if self.triggers.campaign_reply is None:
            del canonical["triggers"]["campaign_reply"]
        return canonical

    def digest(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def parse(data: object, *, stored: bool = False) -> FlowDocument:
    """The document ``data`` describes, or ``InvalidFlow`` with every fault located.
    ``stored``: a version published earlier, read back (see ``flow_answers.STORED``)."""
    try:
        document = FlowDocument.model_validate(data, context={STORED: True} if stored else None)
    except ValidationError as exc:
        raise InvalidFlow(_precise([_fault(error, data) for error in exc.errors()])) from None
    faults = list(_graph_faults(document)) + list(_language_faults(document))
    if faults:
        raise InvalidFlow(faults)
    return document


def _precise(faults: list[Fault]) -> list[Fault]:
    """One fault per place, the most precise: a text that is neither a string nor a
    mapping of languages is reported where the mapping is wrong (``text.de``), not also as
    "not a string" on ``text``."""
    located: dict[Location, Fault] = {}
    for fault in faults:
        located.setdefault(fault.location, fault)
    return [
        fault
        for location, fault in located.items()
        if not any(other[: len(location)] == location and other != location for other in located)
    ]


def _fault(error: Any, data: object) -> Fault:
    """A pydantic error located in the document as written: pydantic's location also names
    the union member it tried (``steps.0.ask.answer.number.min``), which the document
    does not contain, so those parts are dropped (``steps[0].answer.min``)."""
    node, location = data, []
    parts = [p for p in error["loc"] if p != "[key]"]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if _holds(node, part):
            node = node[part]  # type: ignore[index]
        elif isinstance(part, int) or (last and error["type"] == "missing"):
            node = None
        else:
            continue  # a union member's tag
        location.append(part)
    if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        location.append(error["ctx"]["discriminator"].strip("'"))
    return Fault(tuple(location), str(error["msg"]).removeprefix("Value error, "))


def _holds(node: object, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _graph_faults(document: FlowDocument) -> Iterator[Fault]:
    """Wrong ids and targets first; steps nobody reaches only once every target exists,
    since a ``next`` that names no step strands the steps it meant to reach."""
    faults = list(_target_faults(document))
    yield from faults
    if faults:
        return
    reached = _reachable(document)
    for index, step in enumerate(document.steps):
        if step.id not in reached:
            yield Fault(("steps", index, "id"), f"no step leads to {step.id!r}")
        elif isinstance(step, Say) and _says_forever(document, step):
            yield Fault(("steps", index, "next"), "these say steps loop without a question")


def _says_forever(document: FlowDocument, step: Say) -> bool:
    """Whether ``say`` steps lead from ``step`` back to it: the bot would talk forever."""
    seen: set[str] = set()
    current: Ask | Say | Handoff | End = step
    while isinstance(current, Say) and current.id not in seen:
        seen.add(current.id)
        following = document.after(current)
        if following is None:
            return False
        current = document.step(following)
    return isinstance(current, Say)


def _target_faults(document: FlowDocument) -> Iterator[Fault]:
    ids = [s.id for s in document.steps]
    seen: set[str] = set()
    for index, step in enumerate(document.steps):
        if step.id in seen:
            yield Fault(("steps", index, "id"), f"another step is already called {step.id!r}")
        seen.add(step.id)
        for location, target in _targets(step):
            if target not in ids:
                yield Fault(("steps", index, *location), f"no step is called {target!r}")
        if isinstance(step, Ask):
            for b, branch in enumerate(step.branches):
                for value in branch.values:
                    if not step.answer.can_be(value):
                        yield Fault(
                            ("steps", index, "branches", b, "when"),
                            f"{value!r} is not a possible {step.answer.kind} answer here",
                        )


def _targets(step: Ask | Say | Handoff | End) -> Iterator[tuple[Location, str]]:
    if isinstance(step, Ask | Say) and step.next is not None:
        yield ("next",), step.next
    if isinstance(step, Ask):
        for b, branch in enumerate(step.branches):
            yield ("branches", b, "next"), branch.next


def _reachable(document: FlowDocument) -> set[str]:
    reached: set[str] = set()
    waiting = [document.steps[0].id]
    while waiting:
        step_id = waiting.pop()
        if step_id in reached:
            continue
        reached.add(step_id)
        step = document.step(step_id)
        if isinstance(step, Ask | Say):
            following = document.after(step)
            waiting += [t for _, t in _targets(step)] + ([following] if following else [])
    return reached


def _language_faults(document: FlowDocument) -> Iterator[Fault]:
    wanted = set(document.settings.languages)
    reported: set[Location] = set()
    for location, _ in document.templates():
        if len(location) == 4 and location[:3] not in reported:
            reported.add(location[:3])
            step = document.steps[int(location[1])]
            given = set(getattr(step, str(location[2])))
            if given != wanted:
                yield Fault(
                    location[:3],
                    f"give one text per language of the flow ({', '.join(sorted(wanted))})",
                )
