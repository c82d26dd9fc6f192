"""GSM 03.38 / UCS-2 length counting and SMS segmentation.

Chainon counts and splits messages itself because the SMPP libraries get it wrong: smpplib cuts
GSM escape pairs and UTF-16 surrogate pairs across parts, and aiosmpplib counts characters
instead of septets. Segment counts drive pricing and the parts we submit, so they must match
what the SMSC and the handset will do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_LOOKALIKES",
    "Encoding",
    "SegmentPlan",
    "is_gsm7",
    "plan_segments",
    "septet_length",
    "smart_encode",
    "smart_encode_if_cheaper",
    "ucs2_length",
]


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


# 3GPP TS 23.038 default alphabet in code point order 0x00-0x7F; ESC (0x1B) is left out because
# it only introduces an extension character and is never a character of its own.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each character costs two septets (ESC + code).
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
_GSM7_ALL: frozenset[str] = GSM7_BASIC | GSM7_EXTENSION

_SINGLE_GSM7 = 160
_CONCAT_GSM7 = 153  # 160 minus the 7 septets taken by the 6-byte concatenation UDH
_SINGLE_UCS2 = 70
_CONCAT_UCS2 = 67  # 70 minus the 3 UTF-16 units taken by the 6-byte concatenation UDH


def _build_lookalikes() -> dict[str, str]:
    table: dict[str, str] = {}
    table.update(dict.fromkeys("‘’‚‛′‹›`´", "'"))
    table.update(dict.fromkeys("“”„‟″«»", '"'))
    # Tab, no-break space, the U+2000 block spaces, narrow/medium/ideographic spaces.
    spaces = "\t\u00a0\u202f\u205f\u3000" + "".join(chr(c) for c in range(0x2000, 0x200B))
    table.update(dict.fromkeys(spaces, " "))
    # Hyphen, non-breaking hyphen, figure dash, en/em dash, horizontal bar, minus sign.
    dashes = "".join(chr(c) for c in range(0x2010, 0x2016)) + "\u2212"
    table.update(dict.fromkeys(dashes, "-"))
    table.update({"…": "...", "•": "-", "⁄": "/", "￡": "£", "￥": "¥"})
    # Invisible characters: zero-width space/joiners, word joiner, BOM, soft hyphen.
    table.update(dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""))
    # Fullwidth ASCII (U+FF01-U+FF5E) maps onto ASCII; fullwidth backquote has no GSM-7 twin.
    for code in range(0xFF01, 0xFF5F):
        ascii_char = chr(code - 0xFEE0)
        table[chr(code)] = table.get(ascii_char, ascii_char)
    return table


# Look-alike characters and the GSM-7 text that replaces them. Only visually equivalent
# punctuation and spacing is listed: letters (e.g. "ç", "á") are never rewritten, since that
# would change the words the sender wrote.
GSM7_LOOKALIKES: Mapping[str, str] = MappingProxyType(_build_lookalikes())
_LOOKALIKE_TABLE: dict[int, str] = {ord(k): v for k, v in GSM7_LOOKALIKES.items()}


@dataclass(frozen=True)
class SegmentPlan:
    """How a text goes on the wire: its encoding and the text carried by each SMS part."""

    encoding: Encoding
    segments: tuple[str, ...]
    units: int

    @property
    def count(self) -> int:
        return len(self.segments)


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM 03.38 basic or extension table."""
    return _GSM7_ALL.issuperset(text)


def septet_length(text: str) -> int:
    """Septets needed in GSM-7: extension characters cost two (ESC + code)."""
    total = 0
    for char in text:
        if char in GSM7_BASIC:
            total += 1
        elif char in GSM7_EXTENSION:
            total += 2
        else:
            raise ValueError(f"{char!r} (U+{ord(char):04X}) is not in the GSM 03.38 alphabet")
    return total


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def ucs2_length(text: str) -> int:
    """UTF-16 code units: astral characters (emoji, ...) need a surrogate pair, hence two."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def plan_segments(text: str) -> SegmentPlan:
    """Choose the encoding and split ``text`` into SMS parts.

    A character is never split across parts: a GSM-7 extension character (two septets) or an
    astral character (surrogate pair) that does not fit at the end of a part starts the next
    one. Empty text yields one empty segment with 0 units: an empty ``submit_sm`` is still one
    message, and rejecting empty bodies is the caller's policy, not an encoding question.
    """
    if is_gsm7(text):
        encoding, single, per_part = Encoding.GSM7, _SINGLE_GSM7, _CONCAT_GSM7
        units = septet_length(text)
    else:
        encoding, single, per_part = Encoding.UCS2, _SINGLE_UCS2, _CONCAT_UCS2
        units = ucs2_length(text)
    if units <= single:
        return SegmentPlan(encoding, (text,), units)

    segments: list[str] = []
    start = 0
    used = 0
    for index, char in enumerate(text):
        if encoding is Encoding.GSM7:
            cost = 2 if char in GSM7_EXTENSION else 1
        else:
            cost = _ucs2_units(char)
        if used + cost > per_part:
            segments.append(text[start:index])
            start, used = index, 0
        used += cost
    segments.append(text[start:])
    return SegmentPlan(encoding, tuple(segments), units)


def smart_encode(text: str) -> tuple[str, tuple[str, ...]]:
    """Replace look-alike punctuation and spaces (see ``GSM7_LOOKALIKES``) with GSM-7 text.

    Pasted text often carries curly quotes, dashes or no-break spaces that alone would force
    UCS-2 (70 instead of 160 characters per part). Returns the new text and the distinct
    replaced characters in order of first appearance, so the change can be recorded. The text
    is not guaranteed to be GSM-7 afterwards (letters and emoji are kept); check ``is_gsm7``.
    """
    replaced = tuple(dict.fromkeys(char for char in text if char in GSM7_LOOKALIKES))
    if not replaced:
        return text, ()
    return text.translate(_LOOKALIKE_TABLE), replaced


def smart_encode_if_cheaper(text: str) -> tuple[str, tuple[str, ...]]:
    """``smart_encode``'s rewrite, kept only when it takes fewer SMS parts.

    A rewrite is not always a saving: ``…`` becomes three characters, and a text that keeps
    a letter outside GSM-7 stays UCS-2, so the rewrite can cost as much, or a part more. The
    sender's own characters are changed only when that makes the message cheaper; otherwise
    it goes as written and nothing is recorded as replaced.
    """
    new, replaced = smart_encode(text)
    if replaced and plan_segments(new).count < plan_segments(text).count:
        return new, replaced
    return text, ()
