"""The Bot aggregate stores a dialogue's facts as events, and its replay is the dialogue
the engine decided: the state a reply is answered from after a restart."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from eventsourcing.domain import Aggregate

from chainon.domain import ids
from chainon.domain.bot import Bot
from chainon.domain.dialogue import Dialogue, Status, Turn
from tests.unit.test_dialogue import NOW, answer, begin, document


def replayed(events: list[Any]) -> Bot:
    state: Aggregate | None = None
    for event in events:
        state = event.mutate(state)
    assert isinstance(state, Bot)
    return state


def recorded(bot: Bot, turn: Turn) -> None:
    for fact in turn.facts:
        bot.record(fact, at=NOW, trigger="keyword", message_id=uuid4())


def test_the_replayed_bot_holds_the_dialogue_the_engine_decided() -> None:
    flow = document()
    conversation = uuid4()
    bot = Bot.open(uuid4(), conversation, at=NOW)
    assert bot.id == ids.bot_id(conversation)
    first = begin(flow)
    recorded(bot, first)
    wrong = answer(flow, first, "peut-être")
    recorded(bot, wrong)
    log = list(bot.collect_events())
    again = replayed(log)
    assert again.waiting == wrong.dialogue
    assert again.run == 1
    assert again.trigger == "keyword"
    late = answer(flow, wrong, "2")  # Après-midi: the branch to a hand-off
    recorded(bot, late)
    final = replayed([*log, *bot.collect_events()])
    assert final.waiting is None
    assert final.dialogue == Dialogue("slot", 3, "fr", Status.HANDED_OFF, answers={"slot": "pm"})
    assert final.handoff is not None
    assert (final.handoff["team"], final.handoff["priority"]) == ("evening", "high")


def test_a_stop_ends_only_a_dialogue_in_progress() -> None:
    flow = document()
    bot = Bot.open(uuid4(), uuid4(), at=NOW)
    assert not bot.stop("opt_out", at=NOW)
    recorded(bot, begin(flow))
    assert bot.stop("opt_out", at=NOW)
    assert bot.waiting is None
    assert not bot.stop("opt_out", at=NOW)
    kinds = [type(e).__name__ for e in bot.collect_events()]
    assert kinds == ["Opened", "FlowStarted", "QuestionAsked", "FlowStopped"]
