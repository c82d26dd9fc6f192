"""Which language a consumer writes in, from the words of a message: French or English.

A routing rule sends English speakers to the team that answers in English; a full
language model would be heavy and opaque for two languages whose commonest words barely
overlap. So the detector counts each language's stop words (the short words every
sentence needs) and answers only when one side clearly wins: a message of emoji, a
number or a lone "ok" is no language at all. Accents and case aside (``normalise``), a
text always gives the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from chainon.domain.keywords import normalise

Detected = Literal["fr", "en"]

FRENCH = """le la les un une des du de au aux et est sont suis es je tu il elle nous vous ils
elles mon ma mes ton ta tes son sa ses notre votre vos leur leurs ce cette ces qui que quoi dans
pour avec sans sur sous chez mais ou donc car ne pas plus tres bonjour merci oui non avoir etre
fait faire veux voudrais peux pouvez avez ai quand comment pourquoi aussi bien encore deja ici
rien tout tous toutes cela ca livraison commande colis aujourd hui demain madame monsieur svp"""
ENGLISH = """the an and is are am was were be been being i you he she we they my your his her
our their this that these those what which who whom with without for from of to in at by not
no yes please thanks thank hello hi have has had do does did will would can could should may
might when how why also very still already here there nothing all order delivery package today
tomorrow want need help"""
# Words that count for one language only: those both share ("a", "on", "ok", "me"...) are
# left out, so that a word is never a vote both ways.
STOP_WORDS: dict[Detected, frozenset[str]] = {
    "fr": frozenset(re.split(r"\s+", FRENCH)),
    "en": frozenset(re.split(r"\s+", ENGLISH)),
}
MIN_VOTES = 2  # fewer counted words than this: too little to tell
MARGIN = 2.0  # the winner needs twice the other's votes


def votes(text: str) -> dict[Detected, int]:
    """How many of the text's words are stop words of each language."""
    words = normalise(text).split()
    return {language: sum(w in found for w in words) for language, found in STOP_WORDS.items()}


def detect(text: str) -> Detected | None:
    """The language ``text`` is written in, or None when it cannot be told."""
    counted = votes(text)
    french, english = counted["fr"], counted["en"]
    if french + english < MIN_VOTES:
        return None
    if french >= MARGIN * english and french > english:
        return "fr"
    if english >= MARGIN * french and english > french:
        return "en"
    return None


def detect_all(texts: Iterable[str]) -> Detected | None:
    """The language of a consumer's messages taken together (a conversation so far)."""
    return detect("\n".join(texts))
