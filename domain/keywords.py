"""Keywords a consumer texts to act on their consent: STOP, START, HELP and their kin.

A message acts only when it is *nothing but* a keyword, once case, accents, surrounding
spaces, punctuation and emoji are set aside ("Stop !", "ARRÊT", "stop sms", "🛑 STOP").
A sentence that merely contains one ("ne stoppez pas la livraison", "don't stop") is not a
keyword: reading intent in plain words is ``opt_out_intent``'s job, with its own rules.

The lists are data, per language, and a brand extends them (``KeywordBook.extended``):
a French brand may take ``OUI`` as an opt-in. Every language's list applies to every
message, since a consumer of a French number may well answer "STOP" or "UNSUBSCRIBE".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from chainon.domain.errors import InvalidInput

MAX_KEYWORD_LENGTH = 32


class KeywordAction(StrEnum):
    OPT_OUT = "opt_out"  # marketing, on every channel of the brand
    OPT_OUT_ALL = "opt_out_all"  # marketing and service
    OPT_IN = "opt_in"
    HELP = "help"


_NOT_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """Lower case, accents dropped, anything but letters and digits turned into one space.

    "Arrêt !" → "arret", "STOP-SMS" → "stop sms", "🛑 Stop 🛑" → "stop". Ligatures and
    full-width letters fold too (NFKD), so a keyboard's odd forms read as the plain word.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _NOT_WORD.sub(" ", decomposed.translate(_MARKS)).strip()


class _Marks(dict[int, int | None]):
    """``str.translate``'s table dropping combining marks (the accents NFKD split off),
    each code point looked up once: a walk letter by letter in Python was most of the
    time of reading a message's words."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        if len(self) < 65536:
            self[code] = kept
        return kept


_MARKS = _Marks()


@dataclass(frozen=True)
class KeywordList:
    """One language's keywords, each action to its normalised words."""

    words: Mapping[KeywordAction, frozenset[str]]

    def action_of(self, normalised: str) -> KeywordAction | None:
        # OPT_OUT_ALL first: "stop all" must not read as a plain "stop" plus noise.
        for action in (
            KeywordAction.OPT_OUT_ALL,
            KeywordAction.OPT_OUT,
            KeywordAction.OPT_IN,
            KeywordAction.HELP,
        ):
            if normalised in self.words.get(action, frozenset()):
                return action
        return None


def _words(*raw: str) -> frozenset[str]:
    return frozenset(normalise(word) for word in raw)


DEFAULT_LISTS: Mapping[str, KeywordList] = {
    "en": KeywordList(
        {
            KeywordAction.OPT_OUT: _words(
                "STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"
            ),
            KeywordAction.OPT_OUT_ALL: _words("STOPALL", "STOP ALL"),
            KeywordAction.OPT_IN: _words("START", "UNSTOP"),
            KeywordAction.HELP: _words("HELP", "INFO"),
        }
    ),
    "fr": KeywordList(
        {
            KeywordAction.OPT_OUT: _words(
                "STOP", "STOP SMS", "ARRET", "ARRÊT", "DESABONNER", "DÉSABONNER"
            ),
            KeywordAction.OPT_OUT_ALL: _words("STOPALL", "STOP ALL"),
            KeywordAction.OPT_IN: _words("START", "UNSTOP"),
            KeywordAction.HELP: _words("AIDE", "INFO"),
        }
    ),
}


@dataclass(frozen=True)
class Keyword:
    action: KeywordAction
    word: str  # the normalised keyword that matched
    language: str


@dataclass(frozen=True)
class KeywordBook:
    """Every language's lists; a brand's book is the defaults plus its own words."""

    lists: Mapping[str, KeywordList] = field(default_factory=lambda: dict(DEFAULT_LISTS))

    def keyword_of(self, text: str) -> Keyword | None:
        """The keyword ``text`` is, or None when it is anything more or less than one."""
        return self.keyword_of_words(normalise(text))

    def keyword_of_words(self, normalised: str) -> Keyword | None:
        """``keyword_of`` for words ``normalise`` already gave: a message's decision reads
        them several times, and normalising was most of a lookup."""
        if not normalised:
            return None
        for language in sorted(self.lists):
            action = self.lists[language].action_of(normalised)
            if action is not None:
                return Keyword(action, normalised, language)
        return None

    def words(self, action: KeywordAction) -> frozenset[str]:
        return frozenset().union(*(k.words.get(action, frozenset()) for k in self.lists.values()))

    def extended(self, language: str, action: KeywordAction, words: Iterable[str]) -> KeywordBook:
        """This book with ``words`` added to ``language``'s ``action`` (a brand's own)."""
        added = set()
        for raw in words:
            word = normalise(raw)
            if not word or len(word) > MAX_KEYWORD_LENGTH:
                raise InvalidInput(
                    f"a keyword is 1 to {MAX_KEYWORD_LENGTH} letters or digits, not {raw!r}",
                    field="keywords",
                )
            taken = self.keyword_of(word)
            if taken is not None and taken.action is not action:
                raise InvalidInput(
                    f"{raw!r} is already a keyword for {taken.action.value}", field="keywords"
                )
            added.add(word)
        current = self.lists.get(language, KeywordList({}))
        merged = dict(current.words)
        merged[action] = merged.get(action, frozenset()) | added
        return KeywordBook({**self.lists, language: KeywordList(merged)})


DEFAULT_BOOK = KeywordBook()
