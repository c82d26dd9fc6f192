"""The bot of one conversation: the record of every dialogue a flow held in it.

The dialogue engine (``domain.dialogue``) decides facts; this aggregate stores them as
events, so a dialogue is replayable and auditable like the conversation itself, and the
dialogue in progress is the fold of its events (``Dialogue.after``). One aggregate per
conversation (its id derived from the conversation's), saved in the same unit of work:
the conversation's 1,000 lines stay about messages, and a conversation's dialogues are
found without an index. Dialogues follow each other (``run`` counts them); at most one
is in progress.

``conversation_id`` is on the facts the read models need alone (a question's deadline,
a hand-off's summary for the queue): a projection sees one fact at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import dialogue as d
from chainon.domain import ids

Trigger = Literal["keyword", "new_conversation", "campaign_reply", "resolution", "api"]
# The attribute a flow stores a satisfaction rating as (the ``csat`` example's), 1 to 5.
CSAT_ATTRIBUTE = "csat_score"
CSAT_SCORES = frozenset({"1", "2", "3", "4", "5"})
# What ends a dialogue that neither completed, timed out nor handed off.
StopReason = Literal["opt_out", "replaced"]


class Bot(Aggregate):
    TOPIC = "chainon:Bot"

    class Event(Aggregate.Event):
        TOPIC = "chainon:Bot.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:Bot.Created"

    class Opened(Created):
        TOPIC = "chainon:Bot.Opened"
        brand_id: UUID
        conversation_id: UUID

    class FlowStarted(Event):
        """Dialogue ``run`` began on ``version`` of ``flow``: the version it finishes on."""

        TOPIC = "chainon:Bot.FlowStarted"
        run: int
        flow: str
        version: int
        language: str
        trigger: str

    class QuestionAsked(Event):
        """``message_id`` is the message queued in the conversation beside it."""

        TOPIC = "chainon:Bot.QuestionAsked"
        run: int
        conversation_id: UUID
        step: str
        text: str
        choices: list[str]  # the choices' values, in order
        attempt: int
        deadline: datetime
        message_id: UUID

    class AnswerCollected(Event):
        TOPIC = "chainon:Bot.AnswerCollected"
        personal_fields: ClassVar[tuple[str, ...]] = ("text", "value")
        run: int
        step: str
        text: str
        value: str
        store_as: str | None
        message_id: UUID | None  # the consumer's message it came in

    class AnswerRejected(Event):
        TOPIC = "chainon:Bot.AnswerRejected"
        personal_fields: ClassVar[tuple[str, ...]] = ("text",)
        run: int
        step: str
        text: str
        reason: str
        reprompts_left: int
        message_id: UUID | None

    class HandedOff(Event):
        TOPIC = "chainon:Bot.HandedOff"
        personal_fields: ClassVar[tuple[str, ...]] = ("summary", "answers")
        run: int
        conversation_id: UUID
        flow: str
        step: str | None
        reason: str  # step, keyword, failure, timeout
        team: str
        priority: str
        summary: str
        answers: dict[str, str]

    class FlowCompleted(Event):
        TOPIC = "chainon:Bot.FlowCompleted"
        run: int
        step: str | None
        after_failure: bool

    class FlowTimedOut(Event):
        TOPIC = "chainon:Bot.FlowTimedOut"
        run: int
        step: str
        action: str  # handoff, close

    class FlowStopped(Event):
        """The dialogue ended by no doing of its own: the consumer opted out."""

        TOPIC = "chainon:Bot.FlowStopped"
        run: int
        step: str | None
        reason: str

    @event(Opened)
    def __init__(self, brand_id: UUID, conversation_id: UUID) -> None:
        self.brand_id = brand_id
        self.conversation_id = conversation_id
        self.run = 0
        self.trigger = ""  # of the dialogue in progress (or the last one)
        self.dialogue: d.Dialogue | None = None
        self.handoff: dict[str, Any] | None = None  # the last hand-off, as the API shows it
        self.csat: int | None = None  # the latest rating a flow collected here

    @classmethod
    def open(cls, brand_id: UUID, conversation_id: UUID, *, at: datetime) -> Bot:
        return cls._create(
            cls.Opened,
            id=ids.bot_id(conversation_id),
            timestamp=at,
            brand_id=brand_id,
            conversation_id=conversation_id,
        )

    @property
    def waiting(self) -> d.Dialogue | None:
        """The dialogue in progress, waiting for an answer."""
        return self.dialogue if self.dialogue is not None and self.dialogue.waiting else None

    def record(
        self,
        fact: d.Fact,
        *,
        at: datetime,
        trigger: Trigger = "api",
        message_id: UUID | None = None,
    ) -> None:
        """Stores one fact of a turn: ``message_id`` is the outbound message a question
        went out as, or the consumer's message an answer came in."""
        if isinstance(fact, d.FlowStarted):
            self._started(
                run=self.run + 1,
                flow=fact.flow,
                version=fact.version,
                language=fact.language,
                trigger=trigger,
                timestamp=at,
            )
        elif isinstance(fact, d.QuestionAsked):
            assert message_id is not None
            self._asked(
                run=self.run,
                conversation_id=self.conversation_id,
                step=fact.step,
                text=fact.prompt.text,
                choices=[c.value for c in fact.prompt.choices],
                attempt=fact.attempt,
                deadline=fact.deadline,
                message_id=message_id,
                timestamp=at,
            )
        elif isinstance(fact, d.AnswerCollected):
            self._collected(
                run=self.run,
                step=fact.step,
                text=fact.text,
                value=fact.value,
                store_as=fact.store_as,
                message_id=message_id,
                timestamp=at,
            )
        elif isinstance(fact, d.AnswerRejected):
            self._rejected(
                run=self.run,
                step=fact.step,
                text=fact.text,
                reason=fact.reason,
                reprompts_left=fact.reprompts_left,
                message_id=message_id,
                timestamp=at,
            )
        elif isinstance(fact, d.HandedOff):
            assert self.dialogue is not None
            self._handed_off(
                run=self.run,
                conversation_id=self.conversation_id,
                flow=self.dialogue.flow,
                step=fact.step,
                reason=fact.reason,
                team=fact.team,
                priority=fact.priority,
                summary=fact.summary,
                answers=dict(fact.answers),
                timestamp=at,
            )
        elif isinstance(fact, d.FlowCompleted):
            self._completed(
                run=self.run, step=fact.step, after_failure=fact.after_failure, timestamp=at
            )
        elif isinstance(fact, d.FlowTimedOut):
            self._timed_out(run=self.run, step=fact.step, action=fact.action, timestamp=at)
        # A ``Told`` is the message queued in the conversation: nothing of the bot's own.

    def stop(self, reason: StopReason, *, at: datetime) -> bool:
        """Ends the dialogue in progress (an opt-out); False when none is."""
        if self.dialogue is None or not self.dialogue.waiting:
            return False
        self._stopped(run=self.run, step=self.dialogue.step, reason=reason, timestamp=at)
        return True

    def _fold(self, fact: d.Fact) -> None:
        assert self.dialogue is not None
        self.dialogue = self.dialogue.after(fact)

    @event(FlowStarted)
    def _started(
        self, run: int, flow: str, version: int, language: str, trigger: str, timestamp: datetime
    ) -> None:
        self.run = run
        self.trigger = trigger
        self.dialogue = d.Dialogue(flow, version, language)

    @event(QuestionAsked)
    def _asked(
        self,
        run: int,
        conversation_id: UUID,
        step: str,
        text: str,
        choices: list[str],
        attempt: int,
        deadline: datetime,
        message_id: UUID,
        timestamp: datetime,
    ) -> None:
        assert self.dialogue is not None
        prompt = d.Prompt(text, self.dialogue.language)
        self._fold(d.QuestionAsked(step, prompt, attempt, deadline))

    @event(AnswerCollected)
    def _collected(
        self,
        run: int,
        step: str,
        text: str,
        value: str,
        store_as: str | None,
        message_id: UUID | None,
        timestamp: datetime,
    ) -> None:
        self._fold(d.AnswerCollected(step, text, value, store_as))
        if store_as == CSAT_ATTRIBUTE and value in CSAT_SCORES:
            self.csat = int(value)

    @event(AnswerRejected)
    def _rejected(
        self,
        run: int,
        step: str,
        text: str,
        reason: str,
        reprompts_left: int,
        message_id: UUID | None,
        timestamp: datetime,
    ) -> None:
        self._fold(d.AnswerRejected(step, text, reason, reprompts_left))

    @event(HandedOff)
    def _handed_off(
        self,
        run: int,
        conversation_id: UUID,
        flow: str,
        step: str | None,
        reason: str,
        team: str,
        priority: str,
        summary: str,
        answers: dict[str, str],
        timestamp: datetime,
    ) -> None:
        self._fold(d.HandedOff(step, "step", team, priority, summary, answers))
        self.handoff = {
            "flow": flow,
            "team": team,
            "priority": priority,
            "reason": reason,
            "summary": summary,
            "answers": dict(answers),
            "at": timestamp,
        }

    @event(FlowCompleted)
    def _completed(
        self, run: int, step: str | None, after_failure: bool, timestamp: datetime
    ) -> None:
        self._fold(d.FlowCompleted(step, after_failure))

    @event(FlowTimedOut)
    def _timed_out(self, run: int, step: str, action: str, timestamp: datetime) -> None:
        self._fold(d.FlowTimedOut(step, "close" if action == "close" else "handoff"))

    @event(FlowStopped)
    def _stopped(self, run: int, step: str | None, reason: str, timestamp: datetime) -> None:
        self._fold(d.FlowCompleted(step))  # over: no question waits any more
