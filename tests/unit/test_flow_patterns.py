"""The guard against regular expressions that backtrack for hours (ReDoS), refused where a
flow is validated, with the line of the pattern."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.flow import InvalidFlow, parse
from chainon.domain.flow_library import PublishedFlow
from chainon.domain.flow_patterns import MAX_PATTERN, DangerousPattern, check
from chainon.flow_documents import FlowRefused, Refusal, load


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(\w+\s?)*$",
        r"(x+x+)+y",
        r"(a|ab)*c",
        r"(.*a){12}",
        r"(a{1,20}){1,20}",
        r"^(([a-z])+.)+[A-Z]([a-z])+$",
        "a" * (MAX_PATTERN + 1),
    ],
)
def test_dangerous_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(DangerousPattern):
        check(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\d{5}",
        r"[A-Z]{2}-\d{4,8}",
        r"(\d{1,3}\.){3}\d{1,3}",
        r"(\d{2}[ .-]?){5}",
        r"(?:\d|-)*",
        r"(?:ab|cd)+",
        r"(?>\w+\s?)*",  # an atomic group never backtracks into itself
        r"(?:\w++\s?)*",  # nor does a possessive quantifier
        r"(?:Mr|Mrs)\.? \w+",
    ],
)
def test_ordinary_patterns_pass(pattern: str) -> None:
    check(pattern)


def test_a_pattern_that_does_not_compile_is_a_regex_error() -> None:
    with pytest.raises(re.error):
        check("([a-z")


@given(st.text(alphabet="ab()|*+?{}1,.\\d", max_size=30))
def test_every_pattern_is_refused_or_passes_never_anything_else(pattern: str) -> None:
    try:
        check(pattern)
    except (DangerousPattern, re.error):
        return


FLOW = """\
name: order-number
steps:
  - id: number
    type: ask
    text: Votre numéro de commande ?
    answer:
      kind: regex
      pattern: '(\\w+\\s?)*-\\d+'
  - id: bye
    type: end
"""


def test_a_flow_with_a_dangerous_pattern_is_refused_on_its_line() -> None:
    with pytest.raises(FlowRefused) as refused:
        load(FLOW)
    [refusal] = refused.value.refusals
    assert (refusal.line, refusal.field) == (8, "steps[0].answer.pattern")
    assert "exponential time" in refusal.message
    assert load(FLOW.replace("(\\w+\\s?)*", "[A-Z]{2}")).steps[0].id == "number"
    assert isinstance(refusal, Refusal)


def test_a_version_published_before_the_guard_still_loads() -> None:
    document = load(FLOW.replace("(\\w+\\s?)*", "[A-Z]{2}")).canonical()
    document["steps"][0]["answer"]["pattern"] = r"(\w+\s?)*-\d+"
    published = PublishedFlow("order-number", 1, "sha", document, datetime(2026, 1, 1, tzinfo=UTC))
    assert published.flow().steps[0].id == "number"
    with pytest.raises(InvalidFlow):
        parse(document)  # publishing it again is refused
