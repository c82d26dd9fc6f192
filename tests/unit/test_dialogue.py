"""The dialogue engine: questions per channel, answers collected or rejected (a bounded
number of times), hand-off keywords, timeouts, and a dialogue that is the fold of its
facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chainon.domain.channels import Channel
from chainon.domain.dialogue import (
    AnswerCollected,
    AnswerRejected,
    Dialogue,
    FlowCompleted,
    FlowStarted,
    FlowTimedOut,
    HandedOff,
    QuestionAsked,
    Status,
    Told,
    Turn,
    expire,
    reply,
    start,
)
from chainon.domain.flow import FlowDocument, parse
from chainon.flow_documents import render

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SLOTS = {
    "kind": "choice",
    "choices": [{"value": "am", "label": "Matin"}, {"value": "pm", "label": "Après-midi"}],
}


def document(**settings: Any) -> FlowDocument:
    return parse(
        {
            "name": "slot",
            "settings": {"handoff": {"team": "delivery"}, **settings},
            "steps": [
                {"id": "hello", "type": "say", "text": "Bonjour {{ first_name }}"},
                {
                    "id": "slot",
                    "type": "ask",
                    "text": "Quel créneau ?",
                    "answer": SLOTS,
                    "store_as": "slot",
                    "max_reprompts": 1,
                    "branches": [{"when": "pm", "next": "late"}],
                },
                {"id": "bye", "type": "end", "text": "Merci, {{ slot }} noté."},
                {"id": "late", "type": "handoff", "team": "evening", "priority": "high"},
            ],
        }
    )


def begin(flow: FlowDocument) -> Turn:
    return start(flow, 3, values={"first_name": "Léa"}, render=render, now=NOW)


def answer(flow: FlowDocument, turn: Turn, text: str, **more: Any) -> Turn:
    now = more.pop("now", NOW + timedelta(minutes=1))
    return reply(flow, turn.dialogue, text, values={}, render=render, now=now, **more)


def test_a_dialogue_starts_says_hello_and_asks_with_a_deadline() -> None:
    flow = document()
    turn = begin(flow)
    started, hello, asked = turn.facts
    assert started == FlowStarted("slot", 3, "fr")
    assert isinstance(hello, Told)
    assert hello.prompt.text == "Bonjour Léa"
    assert isinstance(asked, QuestionAsked)
    assert (asked.step, asked.attempt, asked.deadline) == ("slot", 0, NOW + timedelta(days=1))
    assert turn.dialogue.waiting
    assert turn.dialogue.step == "slot"


def test_the_question_is_rendered_for_each_channel() -> None:
    asked = begin(document()).facts[-1]
    assert isinstance(asked, QuestionAsked)
    sms, none = asked.prompt.for_channel(Channel.SMS)
    assert sms == "Quel créneau ?\nRépondez 1 pour Matin, 2 pour Après-midi"
    assert none is None
    text, rich = asked.prompt.for_channel(Channel.RCS)
    assert text == "Quel créneau ?"
    assert rich is not None
    assert [(s.text, s.postback_data) for s in rich.suggestions] == [
        ("Matin", "am"),
        ("Après-midi", "pm"),
    ]
    email, _ = asked.prompt.for_channel(Channel.EMAIL)
    assert email == "Quel créneau ?\n\n1. Matin\n2. Après-midi"


def test_a_number_a_label_or_a_postback_picks_a_choice_and_the_flow_ends() -> None:
    flow = document()
    for text, postback in (("1", None), ("matin", None), ("Matin", "am")):
        turn = answer(flow, begin(flow), text, postback=postback)
        collected, told, completed = turn.facts
        assert collected == AnswerCollected("slot", text, "am", "slot")
        assert isinstance(told, Told)
        assert told.prompt.text == "Merci, am noté."
        assert completed == FlowCompleted("bye")
        assert turn.dialogue.status is Status.COMPLETED
        assert turn.dialogue.answers == {"slot": "am"}


def test_a_branch_leads_to_a_hand_off_with_what_was_collected() -> None:
    flow = document()
    turn = answer(flow, begin(flow), "2")
    assert turn.facts[-1] == HandedOff(
        "late", "step", "evening", "high", "slot: pm", {"slot": "pm"}
    )
    assert turn.dialogue.status is Status.HANDED_OFF


def test_a_wrong_answer_is_reprompted_a_bounded_number_of_times_then_handed_off() -> None:
    flow = document()
    first = answer(flow, begin(flow), "5")
    rejected, again = first.facts
    assert rejected == AnswerRejected("slot", "5", "one of the 2 choices, by number", 0)
    assert isinstance(again, QuestionAsked)
    assert again.attempt == 1
    assert again.prompt.text == "Désolé, je n'ai pas compris.\nQuel créneau ?"
    assert again.prompt.for_channel(Channel.SMS)[0].endswith(
        "Répondez 1 pour Matin, 2 pour Après-midi"
    )
    second = answer(flow, first, "bof")
    assert isinstance(second.facts[0], AnswerRejected)
    assert second.facts[1] == HandedOff("slot", "failure", "delivery", "normal", "", {})


def test_when_the_flow_says_end_failing_answers_end_it() -> None:
    flow = document(on_failure="end")
    turn = answer(flow, answer(flow, begin(flow), "x"), "y")
    assert turn.facts[-1] == FlowCompleted("slot", after_failure=True)
    assert turn.dialogue.status is Status.COMPLETED


def test_a_hand_off_keyword_reaches_a_person_at_once() -> None:
    flow = document()
    for word in ("AGENT", "conseiller", "Humain !", "person"):
        turn = answer(flow, begin(flow), word)
        assert turn.facts == (HandedOff("slot", "keyword", "delivery", "normal", "", {}),)
    custom = document(handoff_keywords=["OPERATEUR"])
    assert isinstance(answer(custom, begin(custom), "agent").facts[0], AnswerRejected)
    assert isinstance(answer(custom, begin(custom), "opérateur").facts[0], HandedOff)


def test_a_dialogue_times_out_only_past_its_deadline() -> None:
    flow = document(timeout={"after_minutes": 30, "action": "close"})
    waiting = begin(flow)
    early = NOW + timedelta(minutes=29)
    assert expire(flow, waiting.dialogue, values={}, render=render, now=early).facts == ()
    at = NOW + timedelta(minutes=30)
    late = expire(flow, waiting.dialogue, values={}, render=render, now=at)
    assert late.facts == (FlowTimedOut("slot", "close"),)
    assert late.dialogue.status is Status.CLOSED


def test_a_reply_after_the_deadline_finds_the_dialogue_handed_off() -> None:
    flow = document(timeout={"after_minutes": 30, "action": "handoff"})
    turn = answer(flow, begin(flow), "1", now=NOW + timedelta(hours=1))
    assert turn.facts == (
        FlowTimedOut("slot", "handoff"),
        HandedOff("slot", "timeout", "delivery", "normal", "", {}),
    )
    assert answer(flow, turn, "1").facts == ()  # over: the reply is the conversation's


def test_the_dialogue_is_the_fold_of_its_facts() -> None:
    flow = document()
    turns = [begin(flow)]
    for text in ("x", "1"):
        turns.append(answer(flow, turns[-1], text))
    folded = Dialogue("slot", 3, "fr")
    for fact in (f for turn in turns for f in turn.facts):
        folded = folded.after(fact)
    assert folded == turns[-1].dialogue


def test_a_flow_in_two_languages_speaks_the_one_asked_for() -> None:
    flow = parse(
        {
            "name": "bi",
            "settings": {"languages": ["fr", "en"]},
            "steps": [
                {"id": "q", "type": "ask", "text": {"fr": "Oui ?", "en": "Yes?"},
                 "answer": {"kind": "yes_no"}},
            ],
        }
    )  # fmt: skip
    english = start(flow, 1, values={}, render=render, now=NOW, language="en")
    assert english.facts[-1].prompt.text == "Yes?"  # type: ignore[union-attr]
    unknown = start(flow, 1, values={}, render=render, now=NOW, language="de")
    assert unknown.dialogue.language == "fr"
    rejected = reply(flow, english.dialogue, "hmm", values={}, render=render, now=NOW)
    assert rejected.facts[-1].prompt.text == "Sorry, I did not understand.\nYes?"  # type: ignore[union-attr]
    done = reply(flow, english.dialogue, "yes", values={}, render=render, now=NOW)
    assert done.facts[-1] == FlowCompleted(None)  # ran past its last step


def test_a_choice_is_picked_by_its_labels_first_words_only_when_they_fit_one() -> None:
    flow = parse(
        {
            "name": "slots",
            "steps": [
                {"id": "q", "type": "ask", "text": "Quand ?", "answer": {
                    "kind": "choice", "choices": [
                        {"value": "am", "label": "Matin 8h-12h"},
                        {"value": "late-am", "label": "Matin 10h-13h"},
                        {"value": "pm", "label": "Soir 18h-21h"},
                    ]}},
            ],
        }
    )  # fmt: skip
    turn = start(flow, 1, values={}, render=render, now=NOW)
    assert answer(flow, turn, "soir").facts[0] == AnswerCollected("q", "soir", "pm", None)
    assert isinstance(answer(flow, turn, "matin").facts[0], AnswerRejected)  # two fit
    assert isinstance(answer(flow, turn, "so").facts[0], AnswerRejected)  # not a word
