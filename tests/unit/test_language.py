"""Language detection by stop words: French or English, or nothing when it cannot tell."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.language import STOP_WORDS, detect, detect_all


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bonjour, je voudrais changer l'adresse de ma livraison", "fr"),
        ("Où est mon colis ? Il devait arriver aujourd'hui", "fr"),
        ("Hello, I need to change the address for my delivery", "en"),
        ("Where is my package? It was due today", "en"),
        ("ok", None),
        ("3", None),
        ("👍", None),
        ("", None),
    ],
)
def test_detects_french_and_english(text: str, expected: str | None) -> None:
    assert detect(text) == expected


def test_no_word_votes_both_ways() -> None:
    assert not STOP_WORDS["fr"] & STOP_WORDS["en"]


def test_a_conversation_is_read_as_a_whole() -> None:
    assert detect_all(["Bonjour", "je suis en retard"]) == "fr"
    assert detect_all([]) is None


@given(st.text(max_size=300))
def test_the_same_text_always_gets_the_same_answer(text: str) -> None:
    found = detect(text)
    assert found in {"fr", "en", None}
    assert detect(text) == found
    assert detect(text.upper()) == found  # case aside


@given(st.lists(st.sampled_from(sorted(STOP_WORDS["fr"])), min_size=2, max_size=30))
def test_only_french_stop_words_read_as_french(words: list[str]) -> None:
    assert detect(" ".join(words)) == "fr"
