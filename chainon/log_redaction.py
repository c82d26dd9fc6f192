"""Personal data kept out of the logs: phone numbers and email addresses masked, message
texts replaced by their length.

Logs travel further than the store (collectors, tickets, a screen shared in a meeting) and
outlive an erasure, so a line must not carry a consumer's number or words unless an
operator switched it on for a debugging session (``CHAINON_LOG_PERSONAL_DATA``). Masking
keeps enough to tell lines apart: ``+3361234****`` (the country and the operator's range;
``06 12 34 ** **`` nationally), ``c***@example.org`` (the domain). It runs on every line,
Chainon's and the libraries', after the exception is formatted, so an error message that
quotes an address is masked too.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

# Keys whose value is what a person wrote or will read.
TEXT_KEYS = frozenset({"body", "text", "content", "subject", "words", "rendered"})
MASKED_DIGITS = 4  # +3361234**** of +33612345678: country and range kept, not the person

# E.164 (how Chainon stores numbers), and French and US national forms with separators.
_PHONE = re.compile(
    r"(?<![\w+/-])(?:\+\d{8,15}|0[1-9](?:[ .-]?\d{2}){4}|\(\d{3}\) ?\d{3}-\d{4})(?![\w-])"
)
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
# Every number above has two digits in a row and every address an @: a text with neither
# (a method, a route, an event's name) is returned as it is, without the two substitutions.
_MAYBE = re.compile(r"\d\d|@")


def mask_phone(match: re.Match[str]) -> str:
    """The last four digits hidden, the separators kept: the person's part of the number."""
    found = match.group(0)
    hide = sum(c.isdigit() for c in found) - MASKED_DIGITS
    out = []
    for char in found:
        if char.isdigit():
            out.append(char if hide > 0 else "*")
            hide -= 1
        else:
            out.append(char)
    return "".join(out)


def mask(text: str) -> str:
    if _MAYBE.search(text) is None:
        return text
    return _EMAIL.sub(r"\1***@\2", _PHONE.sub(mask_phone, text))


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _hidden(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def _hidden(key: str, value: Any) -> Any:
    if key in TEXT_KEYS and isinstance(value, str):
        return f"<{len(value)} characters>"
    return _masked(value)


def redact_personal_data(
    _: object, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: every value of the line, masked."""
    return {key: _hidden(key, value) for key, value in event.items()}
