"""The example flows under ``examples/flows/`` are valid, and a broken copy of each is
refused with its line named."""

from __future__ import annotations

import pytest

from chainon.flow_documents import FlowRefused, load
from tests.conftest import ROOT

FLOWS = ROOT / "examples" / "flows"
NAMES = ("delivery-details", "appointment-booking", "csat")


@pytest.mark.parametrize("name", NAMES)
def test_each_example_flow_is_valid(name: str) -> None:
    document = load((FLOWS / f"{name}.yaml").read_text())
    assert document.name == name
    assert sorted(p.stem for p in FLOWS.glob("*.yaml")) == sorted(NAMES)


def line_of(source: str, text: str) -> int:
    return source.splitlines().index(text) + 1


# (flow, a line as written, what it becomes, the field named, a word of the message)
BREAKAGES = [
    ("delivery-details", "        next: new_address", "        next: new_adress",
     "steps[0].branches[0].next", "new_adress"),
    ("delivery-details", "          label: Après-midi 13h-18h",
     "          label: Après-midi, de 13h à 18h30", "steps[2].answer.choices[1].label", "25"),
    ("appointment-booking", '      opens: "09:00"', '      opens: "19:00"', "steps[0].answer",
     "opens must be before closes"),
    ("appointment-booking", "      en: Booked, see you soon!", "      de: Bis bald!",
     "steps[2].text.de", "'fr' or 'en'"),
    ("csat", "      max: 5", "      max: 0", "steps[0].answer", "must not exceed"),
    ("csat", "      - when: [1, 2]", "      - when: [1, 2, 6]", "steps[0].branches[0].when", "'6'"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "line", "broken", "field", "word"), BREAKAGES)
def test_a_broken_copy_is_refused_with_its_line_and_field(
    name: str, line: str, broken: str, field: str, word: str
) -> None:
    source = (FLOWS / f"{name}.yaml").read_text()
    assert source.count(line + "\n") == 1, line
    with pytest.raises(FlowRefused) as refused:
        load(source.replace(line + "\n", broken + "\n"))
    [first, *_] = refused.value.refusals
    assert first.field == field
    assert word in first.message
    assert first.line == line_of(source, line) or (
        # a fault of a whole mapping is named on the mapping's first line
        field == "steps[0].answer" and first.line == line_of(source, "    answer:")
    )
