"""Free text refuses the C0 controls but tab, CR and LF, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from chainon.domain.plain_text import PlainText

TEXT = TypeAdapter(PlainText)
REFUSED = [chr(c) for c in range(0x20) if chr(c) not in "\t\r\n"]


@pytest.mark.parametrize("control", REFUSED)
def test_each_c0_control_but_tab_cr_and_lf_is_refused_with_its_code_and_position(
    control: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        TEXT.validate_python(f"ab{control}c")
    [error] = refused.value.errors()
    assert error["type"] == "control_character"
    assert error["msg"] == (
        f"must not contain control characters: U+{ord(control):04X} at position 2"
    )


@given(st.text(st.characters(blacklist_characters=REFUSED, blacklist_categories=["Cs"])))
def test_any_other_text_is_accepted_unchanged(text: str) -> None:
    assert TEXT.validate_python(text) == text
