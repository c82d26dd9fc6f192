"""Each example flow driven through the dialogue engine, end to end, as a consumer would
answer it (wrong answers, reprompts, a hand-off keyword)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chainon.domain.channels import Channel
from chainon.domain.dialogue import (
    AnswerCollected,
    AnswerRejected,
    Fact,
    FlowCompleted,
    HandedOff,
    QuestionAsked,
    Status,
    Told,
    Turn,
    reply,
    start,
)
from chainon.domain.flow import FlowDocument
from chainon.flow_documents import load, render
from tests.conftest import ROOT

FLOWS = ROOT / "examples" / "flows"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # Thursday, 10:00 in Paris
CONTACT = {"first_name": "Léa", "address": "12 rue des Lilas, Lyon"}


def example(name: str) -> FlowDocument:
    return load((FLOWS / f"{name}.yaml").read_text())


def converse(
    flow: FlowDocument, *answers: str, language: str | None = None
) -> tuple[list[Fact], Turn]:
    turn = start(flow, 1, values=CONTACT, render=render, now=NOW, language=language)
    facts = list(turn.facts)
    for minutes, text in enumerate(answers, start=1):
        at = NOW + timedelta(minutes=minutes)
        turn = reply(flow, turn.dialogue, text, values=CONTACT, render=render, now=at)
        facts += turn.facts
    return facts, turn


def asked(facts: list[Fact]) -> list[str]:
    return [f.step for f in facts if isinstance(f, QuestionAsked)]


def collected(facts: list[Fact]) -> dict[str, str]:
    return {f.step: f.value for f in facts if isinstance(f, AnswerCollected)}


def test_delivery_confirms_the_address_and_collects_a_slot_over_sms() -> None:
    flow = example("delivery-details")
    facts, turn = converse(flow, "Oui !", "4", "2")
    first = next(f for f in facts if isinstance(f, QuestionAsked))
    assert "12 rue des Lilas, Lyon" in first.prompt.text
    assert asked(facts) == ["confirm_address", "pick_slot", "pick_slot"]
    slot = [f for f in facts if isinstance(f, QuestionAsked)][-1]
    assert slot.prompt.for_channel(Channel.SMS)[0].endswith(
        "Répondez 1 pour Matin 8h-12h, 2 pour Après-midi 13h-18h, 3 pour Soir 18h-21h"
    )
    assert [type(f) for f in facts].count(AnswerRejected) == 1
    assert collected(facts) == {"confirm_address": "yes", "pick_slot": "afternoon"}
    told, handed = facts[-2:]
    assert isinstance(told, Told)
    assert told.prompt.text.startswith("Merci !")
    assert isinstance(handed, HandedOff)
    assert (handed.team, handed.reason) == ("delivery", "step")
    assert handed.summary == "Créneau : afternoon ; adresse confirmée : yes"
    assert handed.answers == {"address_confirmed": "yes", "delivery_slot": "afternoon"}
    assert turn.dialogue.status is Status.HANDED_OFF


def test_delivery_takes_a_new_address_when_the_consumer_says_no() -> None:
    facts, _ = converse(example("delivery-details"), "non", "3 place Bellecour, Lyon", "matin")
    handed = facts[-1]
    assert isinstance(handed, HandedOff)
    assert handed.answers == {
        "address_confirmed": "no",
        "delivery_address": "3 place Bellecour, Lyon",
        "delivery_slot": "morning",
    }
    assert handed.summary.endswith("; nouvelle adresse : 3 place Bellecour, Lyon")


def test_an_agent_keyword_in_the_middle_of_delivery_hands_off_with_what_was_learned() -> None:
    facts, turn = converse(example("delivery-details"), "oui", "AGENT")
    assert facts[-1] == HandedOff(
        "pick_slot", "keyword", "delivery", "normal", "address_confirmed: yes",
        {"address_confirmed": "yes"},
    )  # fmt: skip
    assert turn.dialogue.status is Status.HANDED_OFF


def test_an_appointment_is_booked_after_a_wrong_time_and_a_change_of_mind() -> None:
    facts, turn = converse(
        example("appointment-booking"), "demain à 20h", "demain à 9h", "non", "5/12 14h30", "oui"
    )
    assert asked(facts) == ["when", "when", "confirm", "when", "confirm"]
    rejected = next(f for f in facts if isinstance(f, AnswerRejected))
    assert rejected.reason == "a time from 09:00 to 18:00"
    assert collected(facts)["when"] == "2026-12-05T14:30:00+01:00"
    assert facts[-1] == FlowCompleted("booked")
    assert turn.dialogue.answers["appointment_at"] == "2026-12-05T14:30:00+01:00"


def test_an_appointment_in_english() -> None:
    facts, _ = converse(example("appointment-booking"), "12/12 2:30pm", "yes", language="en")
    assert asked(facts) == ["when", "confirm"]
    last_told = [f for f in facts if isinstance(f, Told)][-1]
    assert last_told.prompt.text == "Booked, see you soon!"


def test_a_good_csat_score_takes_an_optional_comment_and_ends() -> None:
    facts, turn = converse(example("csat"), "5", "non")
    assert collected(facts) == {"score": "5", "comment": ""}
    assert facts[-1] == FlowCompleted("thanks")
    assert turn.dialogue.answers == {"csat_score": "5", "csat_comment": ""}


def test_a_low_csat_score_goes_back_to_care_with_the_comment() -> None:
    facts, _ = converse(example("csat"), "six", "1", "Livreur très en retard")
    handed = facts[-1]
    assert isinstance(handed, HandedOff)
    assert (handed.team, handed.priority) == ("care", "high")
    assert handed.summary == "CSAT 1/5 : Livreur très en retard"


def test_a_csat_answer_that_keeps_failing_ends_the_flow() -> None:
    facts, turn = converse(example("csat"), "excellent", "10/10")
    assert facts[-1] == FlowCompleted("score", after_failure=True)
    assert turn.dialogue.status is Status.COMPLETED
