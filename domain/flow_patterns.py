"""Regular expressions a flow checks answers with, refused when they could hang the core.

Python's ``re`` backtracks: a pattern such as ``(a+)+$`` takes time exponential in the
length of a reply that almost matches, and a consumer's 1,000-character answer would hold
the worker that reads it for hours (ReDoS). Patterns are written by the brand and published
ahead of time, so the guard is static and runs when a flow is validated or published,
with the line named: a pattern that is long, or that repeats something which is itself
repeated, or that repeats a choice of alternatives able to start with the same character,
is refused. What the guard refuses can nearly always be written safely with a possessive
quantifier (``a++``) or an atomic group (``(?>…)``), which never backtrack into what they
matched; those are let through.

The reading is conservative (``([a-z]+\\.)*`` is refused although its dot keeps it
linear): a brand rewrites one pattern, rather than a consumer's reply stalling a worker.
"""

from __future__ import annotations

import re
import re._constants as c  # type: ignore[import-not-found]  # the stdlib's, unstubbed
import re._parser as sre  # type: ignore[import-not-found]
from collections.abc import Iterable
from functools import cache
from typing import Any

MAX_PATTERN = 200
MAX_SPLITS = 100
OTHER = -1  # every character beyond Latin-1, taken as one: overlaps are over-reported
EVERY = frozenset(range(256)) | {OTHER}
_CATEGORIES = {
    c.CATEGORY_DIGIT: r"\d",
    c.CATEGORY_NOT_DIGIT: r"\D",
    c.CATEGORY_SPACE: r"\s",
    c.CATEGORY_NOT_SPACE: r"\S",
    c.CATEGORY_WORD: r"\w",
    c.CATEGORY_NOT_WORD: r"\W",
}
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT)
_SAFE = (c.POSSESSIVE_REPEAT, c.ATOMIC_GROUP)
Items = Iterable[tuple[Any, Any]]


class DangerousPattern(ValueError):
    """The pattern could take exponential time; the message says why and what to write."""


def check(pattern: str) -> None:
    """Refuses (``DangerousPattern``) a pattern too long or open to catastrophic
    backtracking; a pattern that does not compile raises ``re.error``."""
    if len(pattern) > MAX_PATTERN:
        raise DangerousPattern(f"at most {MAX_PATTERN} characters (given {len(pattern)})")
    _walk(sre.parse(pattern), outer=0)


def _walk(items: Items, *, outer: int) -> None:
    """``outer``: the most times an enclosing part repeats (0 outside any repeat)."""
    for op, av in items:
        if op in _SAFE:
            continue  # never backtracks into what it matched
        if op in _REPEATS:
            low, high, body = av
            if outer > 1 and low != high and high > 1 and _wide(outer, high):
                raise DangerousPattern(
                    "a repeated part is itself repeated (as in (a+)+), which can take "
                    "exponential time: use a possessive quantifier (a++) or an atomic "
                    "group (?>...)"
                )
            _walk(body, outer=max(outer, high))
        elif op is c.SUBPATTERN:
            _walk(av[3], outer=outer)
        elif op is c.BRANCH:
            if outer > 1 and _overlap(av[1]):
                raise DangerousPattern(
                    "repeated alternatives can start with the same character (as in "
                    "(a|ab)*), which can take exponential time: make them start "
                    "differently, or use an atomic group (?>...)"
                )
            for alternative in av[1]:
                _walk(alternative, outer=outer)
        elif op in (c.ASSERT, c.ASSERT_NOT):
            _walk(av[1], outer=outer)


def _wide(outer: int, inner: int) -> bool:
    """Whether nested repeats give too many ways to split a reply: either is unbounded,
    or both bounds together pass a hundred (``(\\d{1,3}\\.){3}``, an IPv4 address, is
    fine)."""
    return c.MAXREPEAT in (outer, inner) or outer * inner > MAX_SPLITS


def _overlap(alternatives: list[Any]) -> bool:
    seen: set[int] = set()
    for alternative in alternatives:
        first = _first(list(alternative))
        if seen & first:
            return True
        seen |= first
    return False


def _first(items: list[tuple[Any, Any]]) -> frozenset[int]:
    """The characters a match of ``items`` may start with (Latin-1, ``OTHER`` beyond)."""
    found: frozenset[int] = frozenset()
    for op, av in items:
        if op is c.AT:
            continue  # an anchor takes no character
        if op in (*_REPEATS, c.POSSESSIVE_REPEAT):
            low, _, body = av
            found |= _first(list(body))
            if low > 0:
                return found
            continue
        return found | _first_of(op, av)
    return found | EVERY  # may match nothing: what follows decides, unknown here


def _first_of(op: Any, av: Any) -> frozenset[int]:
    if op is c.LITERAL:
        return frozenset({av if av < 256 else OTHER})
    if op is c.NOT_LITERAL:
        return EVERY - {av}
    if op is c.IN:
        return _set(av)
    if op is c.SUBPATTERN:
        return _first(list(av[3]))
    if op is c.ATOMIC_GROUP:
        return _first(list(av))
    if op is c.BRANCH:
        return frozenset().union(*(_first(list(a)) for a in av[1]))
    return EVERY  # any character, a back-reference, a look-around: could be anything


def _set(items: list[tuple[Any, Any]]) -> frozenset[int]:
    chosen: set[int] = set()
    negated = False
    for op, av in items:
        if op is c.NEGATE:
            negated = True
        elif op is c.LITERAL:
            chosen.add(av if av < 256 else OTHER)
        elif op is c.RANGE:
            low, high = av
            chosen |= set(range(low, min(high, 255) + 1))
            if high > 255:
                chosen.add(OTHER)
        elif op is c.CATEGORY:
            chosen |= _category(av)
        else:
            chosen |= EVERY
    return EVERY - chosen if negated else frozenset(chosen)


@cache
def _category(category: Any) -> frozenset[int]:
    spelt = _CATEGORIES.get(category)
    if spelt is None:
        return EVERY
    matched = {n for n in range(256) if re.fullmatch(spelt, chr(n))}
    return frozenset(matched | {OTHER})
