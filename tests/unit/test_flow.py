"""A flow document is refused with each fault located, and accepted only whole: every
``next`` names a step, every step is reached, every text covers the flow's languages."""

from __future__ import annotations

from typing import Any

import pytest

from chainon.domain.flow import FlowDocument, InvalidFlow, parse


def flow(*steps: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {"name": "test-flow", "settings": settings, "steps": list(steps)}


def ask(step_id: str, answer: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "ask", "text": "Question ?", "answer": answer, **more}


def choices(*labels: str) -> dict[str, Any]:
    options = [{"value": label[0].lower(), "label": label} for label in labels]
    return {"kind": "choice", "choices": options}


def end(step_id: str = "bye") -> dict[str, Any]:
    return {"id": step_id, "type": "end", "text": "Au revoir"}


def faults(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidFlow) as refused:
        parse(data)
    return {f.field: f.message for f in refused.value.faults}


def test_a_whole_flow_is_accepted_with_its_defaults() -> None:
    document = parse(flow(ask("q", {"kind": "yes_no"}), end()))
    assert isinstance(document, FlowDocument)
    assert document.settings.handoff_keywords == ["AGENT", "CONSEILLER", "HUMAIN", "PERSON"]
    assert document.settings.timeout.action == "handoff"
    assert document.after(document.steps[0]) == "bye"  # the next one listed


def test_a_next_or_a_branch_to_no_step_is_refused_at_its_place() -> None:
    found = faults(
        flow(
            ask("q", {"kind": "yes_no"}, next="nowhere", branches=[{"when": "no", "next": "gone"}]),
            end(),
        )
    )
    assert found["steps[0].next"] == "no step is called 'nowhere'"
    assert found["steps[0].branches[0].next"] == "no step is called 'gone'"


def test_a_step_nobody_reaches_is_refused() -> None:
    found = faults(flow(ask("q", {"kind": "yes_no"}, next="bye"), end("lost"), end("bye")))
    assert found == {"steps[1].id": "no step leads to 'lost'"}


def test_two_steps_with_one_id_are_refused() -> None:
    found = faults(flow(ask("q", {"kind": "yes_no"}), ask("q", {"kind": "yes_no"})))
    assert found["steps[1].id"] == "another step is already called 'q'"


def test_a_regex_that_does_not_compile_is_refused() -> None:
    found = faults(flow(ask("q", {"kind": "regex", "pattern": "([a-z"})))
    assert found["steps[0].answer.pattern"].startswith("not a regular expression")


def test_an_upside_down_range_is_refused() -> None:
    found = faults(flow(ask("q", {"kind": "number", "min": 5, "max": 1})))
    assert found == {"steps[0].answer": "min (5) must not exceed max (1)"}


def test_a_branch_on_an_answer_that_cannot_be_given_is_refused() -> None:
    choice = choices("A", "B")
    found = faults(
        flow(
            ask("q", choice, branches=[{"when": "c", "next": "bye"}]),
            ask("n", {"kind": "number", "min": 1, "max": 5}, branches=[{"when": 9, "next": "bye"}]),
            ask("y", {"kind": "yes_no"}, branches=[{"when": "maybe", "next": "bye"}]),
            end(),
        )
    )
    assert found["steps[0].branches[0].when"] == "'c' is not a possible choice answer here"
    assert found["steps[1].branches[0].when"] == "'9' is not a possible number answer here"
    assert found["steps[2].branches[0].when"] == "'maybe' is not a possible yes_no answer here"


def test_a_choice_label_longer_than_a_suggestion_is_refused() -> None:
    choice = choices("x" * 26, "B")
    assert "steps[0].answer.choices[0].label" in faults(flow(ask("q", choice)))


def test_a_text_per_language_must_cover_every_language_of_the_flow() -> None:
    step = {"id": "hi", "type": "say", "text": {"fr": "Bonjour"}}
    found = faults(flow(step, languages=["fr", "en"]))
    assert found == {"steps[0].text": "give one text per language of the flow (en, fr)"}


def test_an_unknown_step_type_or_answer_kind_names_its_field() -> None:
    found = faults(flow({"id": "x", "type": "wait"}, ask("q", {"kind": "colour"})))
    assert set(found) == {"steps[0].type", "steps[1].answer.kind"}


def test_an_unknown_time_zone_and_a_missing_field_are_named() -> None:
    found = faults(flow({"id": "hi", "type": "say"}, time_zone="Mars/Olympus"))
    assert found["settings.time_zone"].startswith("'Mars/Olympus' is not an IANA time zone")
    assert found["steps[0].text"] == "Field required"


def test_the_digest_is_that_of_the_meaning_not_the_spelling() -> None:
    spelt_out = flow(ask("q", {"kind": "yes_no"}, max_reprompts=2), end())
    short = flow(ask("q", {"kind": "yes_no"}), end())
    other = flow(ask("q", {"kind": "yes_no"}, max_reprompts=3), end())
    assert parse(spelt_out).digest() == parse(short).digest()
    assert parse(other).digest() != parse(short).digest()
    assert len(parse(short).digest()) == 64


def test_say_steps_that_loop_without_a_question_are_refused() -> None:
    found = faults(
        flow(
            {"id": "a", "type": "say", "text": "Un", "next": "b"},
            {"id": "b", "type": "say", "text": "Deux", "next": "a"},
        )
    )
    assert found == {
        "steps[0].next": "these say steps loop without a question",
        "steps[1].next": "these say steps loop without a question",
    }


def test_lists_a_person_writes_by_hand_are_bounded() -> None:
    branches = [{"when": "yes", "next": "bye"}] * 21
    found = faults(flow(ask("q", {"kind": "yes_no"}, branches=branches), end()))
    assert found["steps[0].branches"].startswith("List should have at most 20 items")


def test_a_campaign_reply_trigger_names_campaigns_or_any() -> None:
    named = parse(
        {**flow(ask("q", {"kind": "yes_no"})), "triggers": {"campaign_reply": ["Soldes"]}}
    )
    assert named.triggers.on_campaign_reply("c-1", "soldes")
    assert named.triggers.on_campaign_reply("c-1", "SOLDES")
    assert not named.triggers.on_campaign_reply("c-2", "Noël")
    by_id = parse({**flow(ask("q", {"kind": "yes_no"})), "triggers": {"campaign_reply": "c-2"}})
    assert by_id.triggers.on_campaign_reply("c-2", "Noël")
    star = parse({**flow(ask("q", {"kind": "yes_no"})), "triggers": {"campaign_reply": "*"}})
    assert star.triggers.on_campaign_reply("c-3", "anything")
    none = parse(flow(ask("q", {"kind": "yes_no"})))
    assert not none.triggers.on_campaign_reply("c-3", "anything")
    empty = {**flow(ask("q", {"kind": "yes_no"})), "triggers": {"campaign_reply": []}}
    assert "triggers.campaign_reply" in faults(empty)


def test_an_unset_campaign_reply_leaves_the_digest_of_older_flows_as_it_was() -> None:
    document = parse(flow(ask("q", {"kind": "yes_no"})))
    assert "campaign_reply" not in document.canonical()["triggers"]
    assert parse(document.canonical()).digest() == document.digest()
    star = parse({**flow(ask("q", {"kind": "yes_no"})), "triggers": {"campaign_reply": "*"}})
    assert star.canonical()["triggers"]["campaign_reply"] == "*"
    assert star.digest() != document.digest()
