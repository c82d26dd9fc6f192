"""The bot's side of a conversation: what a flow does next, given what the consumer said.

Pure: a flow version, the dialogue so far, the consumer's reply and the moment (passed
in, never read) give the facts that follow — a question asked, an answer collected or
rejected, a hand-off, the end — and the dialogue after them. The dialogue is itself a fold
of those facts (``Dialogue.after``), so the events that will record them on the
conversation replay to the same state, and a dialogue always finishes on the version it
started with, whatever was published since.

Templates are rendered by the caller's ``Render`` (the campaigns' Jinja2 sandbox in
``chainon``), since the domain imports no template engine; the values a template sees are
the contact's attributes, then the answers collected so far under their ``store_as``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from chainon.domain.channels import Channel
from chainon.domain.flow import Ask, End, FlowDocument, Handoff, Say, Text
from chainon.domain.flow_answers import ChoiceAnswer, ChoiceOption, Reply, Unreadable
from chainon.domain.rich_content import RichContent, render_sms

Render = Callable[[str, Mapping[str, str]], str]

_NOT_UNDERSTOOD = {"fr": "Désolé, je n'ai pas compris.", "en": "Sorry, I did not understand."}


@dataclass(frozen=True)
class Prompt:
    """A message of the bot, ready for each channel: suggested replies on RCS, numbered
    choices on SMS (the rendering an RCS message falling back to SMS gets), numbered
    lines in an email."""

    text: str
    language: str
    choices: tuple[ChoiceOption, ...] = ()

    def content(self) -> RichContent:
        if not self.choices:
            return RichContent(text=self.text)
        return ChoiceAnswer(choices=list(self.choices)).content(self.text)

    def for_channel(self, channel: Channel) -> tuple[str, RichContent | None]:
        """The body to send on ``channel``, and the rich content where it takes one."""
        if channel is Channel.RCS:
            return self.text, self.content() if self.choices else None
        if channel is Channel.SMS:
            return render_sms(self.content(), self.language), None
        lines = [f"{n}. {c.label}" for n, c in enumerate(self.choices, start=1)]
        return "\n\n".join([self.text, "\n".join(lines)] if lines else [self.text]), None


# The facts a turn decides, in the order they happened.


@dataclass(frozen=True)
class FlowStarted:
    flow: str
    version: int
    language: str


@dataclass(frozen=True)
class QuestionAsked:
    step: str
    prompt: Prompt
    attempt: int  # 0 the first time, then one more per reprompt
    deadline: datetime


@dataclass(frozen=True)
class Told:
    """A text of a ``say``, ``handoff`` or ``end`` step sent to the consumer."""

    step: str
    prompt: Prompt


@dataclass(frozen=True)
class AnswerCollected:
    step: str
    text: str
    value: str  # normalised: "yes", "3", "2026-12-25", a choice's value
    store_as: str | None  # the contact attribute it is stored as


@dataclass(frozen=True)
class AnswerRejected:
    step: str
    text: str
    reason: str  # what was expected
    reprompts_left: int


HandoffReason = Literal["step", "keyword", "failure", "timeout"]


@dataclass(frozen=True)
class HandedOff:
    step: str | None  # the hand-off step, or the question waited on
    reason: HandoffReason
    team: str
    priority: str
    summary: str
    answers: Mapping[str, str]  # what the bot collected, by attribute (or step id)


@dataclass(frozen=True)
class FlowCompleted:
    step: str | None  # the ``end`` step, or None when the flow ran past its last step
    after_failure: bool = False  # the answers kept failing and the flow says ``end``


@dataclass(frozen=True)
class FlowTimedOut:
    step: str
    action: Literal["handoff", "close"]


Fact = (
    FlowStarted | QuestionAsked | Told | AnswerCollected | AnswerRejected | HandedOff
    | FlowCompleted | FlowTimedOut
)  # fmt: skip


class Status(StrEnum):
    WAITING = "waiting"  # for the answer to ``step``
    COMPLETED = "completed"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"  # timed out, and the flow closes rather than hands off


@dataclass(frozen=True)
class Dialogue:
    flow: str
    version: int
    language: str
    status: Status = Status.WAITING
    step: str | None = None
    attempt: int = 0
    deadline: datetime | None = None
    answers: Mapping[str, str] = field(default_factory=dict)  # by attribute (or step id)

    @property
    def waiting(self) -> bool:
        return self.status is Status.WAITING and self.step is not None

    def after(self, fact: Fact) -> Dialogue:
        """This dialogue once ``fact`` happened: the fold a replay runs."""
        if isinstance(fact, QuestionAsked):
            return replace(self, step=fact.step, attempt=fact.attempt, deadline=fact.deadline)
        if isinstance(fact, AnswerCollected):
            key = fact.store_as or fact.step
            return replace(self, answers={**self.answers, key: fact.value}, deadline=None)
        if isinstance(fact, HandedOff):
            return self._over(Status.HANDED_OFF)
        if isinstance(fact, FlowCompleted):
            return self._over(Status.COMPLETED)
        if isinstance(fact, FlowTimedOut):
            return self._over(Status.CLOSED if fact.action == "close" else self.status)
        return self

    def _over(self, status: Status) -> Dialogue:
        return replace(self, status=status, step=None, attempt=0, deadline=None)


@dataclass(frozen=True)
class Turn:
    facts: tuple[Fact, ...]
    dialogue: Dialogue


class _Turn:
    """The facts of one turn as they are decided, the dialogue folded along."""

    def __init__(
        self,
        flow: FlowDocument,
        dialogue: Dialogue,
        values: Mapping[str, str],
        render: Render,
        now: datetime,
    ) -> None:
        self.flow, self.dialogue, self.now = flow, dialogue, now
        self.values, self.render = values, render
        self.facts: list[Fact] = []

    def record(self, fact: Fact) -> None:
        self.facts.append(fact)
        self.dialogue = self.dialogue.after(fact)

    def done(self) -> Turn:
        return Turn(tuple(self.facts), self.dialogue)

    def text(self, given: Text) -> str:
        language = self.dialogue.language
        chosen = (
            given
            if isinstance(given, str)
            else next(text for spoken, text in given.items() if spoken == language)
        )
        return self.render(chosen, {**self.values, **self.dialogue.answers})

    def prompt(self, given: Text, choices: tuple[ChoiceOption, ...] = ()) -> Prompt:
        return Prompt(self.text(given), self.dialogue.language, choices)

    def ask(self, step: Ask, attempt: int, preface: str = "") -> None:
        choices = tuple(step.answer.choices) if isinstance(step.answer, ChoiceAnswer) else ()
        prompt = self.prompt(step.text, choices)
        if preface:
            prompt = replace(prompt, text=f"{preface}\n{prompt.text}")
        deadline = self.now + timedelta(minutes=self.flow.settings.timeout.after_minutes)
        self.record(QuestionAsked(step.id, prompt, attempt, deadline))

    def run_from(self, step_id: str | None) -> None:
        """Runs steps until one waits for an answer or the dialogue is over."""
        for _ in range(len(self.flow.steps) + 1):  # a flow's say steps never loop (parse)
            if step_id is None:
                self.record(FlowCompleted(None))
                return
            step = self.flow.step(step_id)
            if isinstance(step, Ask):
                self.ask(step, attempt=0)
                return
            if isinstance(step, Say):
                self.record(Told(step.id, self.prompt(step.text)))
                step_id = self.flow.after(step)
                continue
            if step.text is not None:
                self.record(Told(step.id, self.prompt(step.text)))
            if isinstance(step, End):
                self.record(FlowCompleted(step.id))
            else:
                self.hand_off(step.id, "step", step)
            return

    def hand_off(
        self, step: str | None, reason: HandoffReason, target: Handoff | None = None
    ) -> None:
        default = self.flow.settings.handoff
        answers = dict(self.dialogue.answers)
        summary = (
            self.text(target.summary)
            if target is not None and target.summary is not None
            else "; ".join(f"{k}: {v or '—'}" for k, v in answers.items())
        )
        self.record(
            HandedOff(
                step,
                reason,
                (target.team if target else None) or default.team,
                (target.priority if target else None) or default.priority,
                summary,
                answers,
            )
        )


def start(
    flow: FlowDocument,
    version: int,
    *,
    values: Mapping[str, str],
    render: Render,
    now: datetime,
    language: str | None = None,
) -> Turn:
    """A new dialogue on ``version`` of ``flow``, in ``language`` when the flow speaks it
    (else its first language), up to its first question."""
    languages = flow.settings.languages
    spoken = language if language in languages else languages[0]
    turn = _Turn(flow, Dialogue(flow.name, version, spoken), values, render, now)
    turn.record(FlowStarted(flow.name, version, spoken))
    turn.run_from(flow.steps[0].id)
    return turn.done()


def reply(
    flow: FlowDocument,
    dialogue: Dialogue,
    text: str,
    *,
    values: Mapping[str, str],
    render: Render,
    now: datetime,
    postback: str | None = None,
) -> Turn:
    """The consumer's reply to the question waited on. A hand-off keyword reaches a
    person at once; a reply after the deadline finds the dialogue timed out."""
    turn = _Turn(flow, dialogue, values, render, now)
    if not dialogue.waiting or dialogue.step is None:
        return turn.done()
    if dialogue.deadline is not None and now >= dialogue.deadline:
        return expire(flow, dialogue, values=values, render=render, now=now)
    if flow.settings.is_handoff_keyword(text):
        turn.hand_off(dialogue.step, "keyword")
        return turn.done()
    step = flow.step(dialogue.step)
    assert isinstance(step, Ask)
    settings = flow.settings
    answer = Reply(
        text=text, postback=postback, now=now, zone=settings.zone, month_first=settings.month_first
    )
    try:
        value = step.answer.read(answer)
    except Unreadable as refused:
        _rejected(turn, step, text, refused.reason)
        return turn.done()
    turn.record(AnswerCollected(step.id, text, value, step.store_as))
    branch = next((b for b in step.branches if value in b.values), None)
    turn.run_from(branch.next if branch is not None else flow.after(step))
    return turn.done()


def expire(
    flow: FlowDocument,
    dialogue: Dialogue,
    *,
    values: Mapping[str, str],
    render: Render,
    now: datetime,
) -> Turn:
    """The dialogue at ``now``: past its deadline, it times out and hands off or closes
    as the flow says; before it, nothing happens."""
    turn = _Turn(flow, dialogue, values, render, now)
    if not dialogue.waiting or dialogue.step is None or dialogue.deadline is None:
        return turn.done()
    if now < dialogue.deadline:
        return turn.done()
    action = flow.settings.timeout.action
    step = dialogue.step
    turn.record(FlowTimedOut(step, action))
    if action == "handoff":
        turn.hand_off(step, "timeout")
    return turn.done()


def _rejected(turn: _Turn, step: Ask, text: str, reason: str) -> None:
    left = step.max_reprompts - turn.dialogue.attempt
    turn.record(AnswerRejected(step.id, text, reason, max(left - 1, 0)))
    if left > 0:
        preface = (
            turn.text(step.reprompt)
            if step.reprompt is not None
            else _NOT_UNDERSTOOD[turn.dialogue.language]
        )
        turn.ask(step, turn.dialogue.attempt + 1, preface)
    elif turn.flow.settings.on_failure == "handoff":
        turn.hand_off(step.id, "failure")
    else:
        turn.record(FlowCompleted(step.id, after_failure=True))
