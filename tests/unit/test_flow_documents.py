"""A flow's YAML refused with the line and the field at fault."""

from __future__ import annotations

import pytest

from chainon.flow_documents import FlowRefused, Refusal, load

GOOD = """\
name: tiny
steps:
  - id: q
    type: ask
    text: Êtes-vous {{ first_name }} ?
    answer:
      kind: yes_no
  - id: bye
    type: end
"""


def refusals(source: str) -> list[Refusal]:
    with pytest.raises(FlowRefused) as refused:
        load(source)
    return refused.value.refusals


def test_a_good_document_loads() -> None:
    document = load(GOOD)
    assert [s.id for s in document.steps] == ["q", "bye"]


def test_a_bad_value_is_named_on_its_own_line() -> None:
    source = GOOD.replace("kind: yes_no", "kind: number\n      min: 1\n      max: lots")
    assert refusals(source) == [
        Refusal(9, "steps[0].answer.max", "Input should be a valid decimal")
    ]


def test_a_missing_field_is_named_on_the_line_of_the_mapping_lacking_it() -> None:
    source = GOOD.replace("    text: Êtes-vous {{ first_name }} ?\n", "")
    assert refusals(source) == [Refusal(3, "steps[0].text", "Field required")]


def test_a_next_to_no_step_is_named_on_its_line() -> None:
    source = GOOD.replace("      kind: yes_no\n", "      kind: yes_no\n    next: nowhere\n")
    assert refusals(source) == [Refusal(8, "steps[0].next", "no step is called 'nowhere'")]


def test_a_template_that_does_not_parse_in_the_sandbox_is_named() -> None:
    [refusal] = refusals(GOOD.replace("{{ first_name }}", "{{ first_name "))
    assert (refusal.line, refusal.field) == (5, "steps[0].text")
    assert refusal.message.startswith("not a valid template")


def test_broken_yaml_names_its_line() -> None:
    [refusal] = refusals(GOOD.replace("      kind: yes_no", "      kind: [yes_no"))
    assert refusal.line >= 7
    assert refusal.field == ""
    assert refusal.message.startswith("not valid YAML")


def test_a_key_given_twice_is_refused() -> None:
    [refusal] = refusals(GOOD.replace("    type: end", "    type: end\n    type: end"))
    assert refusal.line == 10
    assert "duplicate" in refusal.message


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    assert refusals("- just\n- a list\n") == [
        Refusal(1, "", "a flow is a YAML mapping (name:, steps:...)")
    ]


def test_the_refusal_is_an_invalid_input_naming_the_first_field() -> None:
    with pytest.raises(FlowRefused) as refused:
        load(GOOD.replace("type: end", "type: stop"))
    assert refused.value.field == "steps[1].type"
    assert refused.value.detail.startswith("line 9: ")
