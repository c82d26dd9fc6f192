"""Keywords act only when they are the whole message; case, accents, spaces and
punctuation aside."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.errors import InvalidInput
from chainon.domain.keywords import DEFAULT_BOOK, KeywordAction, normalise

OPT_OUT = [
    "STOP", "STOP SMS", "ARRET", "ARRÊT", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
    "OPTOUT", "OPT OUT", "DESABONNER", "DÉSABONNER",
]  # fmt: skip
TABLE = (
    [(word, KeywordAction.OPT_OUT) for word in OPT_OUT]
    + [(word, KeywordAction.OPT_OUT_ALL) for word in ("STOPALL", "STOP ALL")]
    + [(word, KeywordAction.OPT_IN) for word in ("START", "UNSTOP")]
    + [(word, KeywordAction.HELP) for word in ("HELP", "AIDE", "INFO")]
)
DRESSINGS = ["{}", "{} ", "  {}\n", "{}!", "{} !", "«{}»", "{}.", "🛑 {} 🛑", '"{}"', "{}?!"]


def casings(word: str) -> list[str]:
    return [word, word.lower(), word.title(), word.swapcase(), word[:1] + word[1:].lower()]


@pytest.mark.parametrize(("word", "action"), TABLE)
def test_every_keyword_acts_in_every_casing_and_dressing(word: str, action: KeywordAction) -> None:
    for casing in casings(word):
        for dressing in DRESSINGS:
            found = DEFAULT_BOOK.keyword_of(dressing.format(casing))
            assert found is not None, dressing.format(casing)
            assert found.action is action, dressing.format(casing)


@pytest.mark.parametrize(
    "text",
    [
        "ne stoppez pas la livraison",
        "don't stop",
        "stop by tomorrow",
        "STOP please, who is this?",
        "arrêt de bus",
        "help me choose a size",
        "start the order",
        "stops",
        "stopper",
        "",
        "   ",
        "!!!",
    ],
)
def test_a_sentence_that_contains_a_keyword_is_not_one(text: str) -> None:
    assert DEFAULT_BOOK.keyword_of(text) is None


def test_accents_fold_and_punctuation_is_one_space() -> None:
    assert normalise("  Arrêt !! ") == "arret"
    assert normalise("STOP-SMS") == "stop sms"
    assert normalise("Désabonner…") == "desabonner"
    assert normalise("ＳＴＯＰ") == "stop"  # full-width letters, from some keyboards


keyword = st.sampled_from([word for word, _ in TABLE])
# Symbols that fold to no letter (NFKD turns "⒜" into "(a)", which is a letter after all).
noise = st.text(
    st.characters(categories=["P", "Z", "So"]).filter(lambda c: not normalise(c)), max_size=4
)


@given(keyword, noise, noise)
def test_punctuation_spaces_and_symbols_around_a_keyword_never_change_it(
    word: str, before: str, after: str
) -> None:
    found = DEFAULT_BOOK.keyword_of(before + word + after)
    assert found is not None
    assert found.action is dict(TABLE)[word]


@given(keyword, st.text(st.characters(categories=["Ll", "Lu"]), min_size=2, max_size=8))
def test_a_keyword_with_another_word_beside_it_is_not_a_keyword(word: str, other: str) -> None:
    text = f"{word} {other}"
    found = DEFAULT_BOOK.keyword_of(text)
    # Only a pairing that is itself a keyword ("STOP SMS", "STOP ALL", "OPT OUT") acts.
    if found is not None:
        assert normalise(text) in DEFAULT_BOOK.words(found.action)


def test_a_brand_adds_its_own_words_and_cannot_turn_stop_into_anything_else() -> None:
    book = DEFAULT_BOOK.extended("fr", KeywordAction.OPT_IN, ["OUI", "Je m'abonne"])
    oui = book.keyword_of("Oui !")
    assert oui is not None
    assert oui.action is KeywordAction.OPT_IN
    assert DEFAULT_BOOK.keyword_of("oui") is None  # the defaults are untouched
    with pytest.raises(InvalidInput) as refused:
        book.extended("fr", KeywordAction.OPT_IN, ["stop"])
    assert "already a keyword for opt_out" in refused.value.detail
    with pytest.raises(InvalidInput):
        book.extended("fr", KeywordAction.HELP, ["!!!"])


def _normalised_letter_by_letter(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", " ", plain).strip()


@given(st.text() | st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_plain_text_shortcut_normalises_as_the_letter_by_letter_walk(text: str) -> None:
    assert normalise(text) == _normalised_letter_by_letter(text)
