"""SMPP short_message encoding: GSM-7 septets, UCS-2, concatenation UDH / SAR, inbound decoding.

Chainon builds the parts itself instead of trusting the SMPP libraries: smpplib cuts GSM
escape pairs and UTF-16 surrogate pairs across parts, and aiosmpplib counts characters instead
of septets. The split comes from ``domain.sms_encoding.plan_segments`` so that what we submit
is what we priced. Pure functions: no I/O.

Size limits. The air interface carries 140 octets per SMS. For ``data_coding=0`` SMPP carries
GSM-7 *unpacked* (one septet per byte) and the SMSC packs it, so the limit is in septets: 160
for a single message, 153 per part (6 UDH octets + 1 fill bit take 7 septets, 153 packed = 134
octets + 6 = 140), although ``short_message`` itself holds 6 + 153 = 159 bytes. For UCS-2
(``data_coding=8``) the limit is in octets: 140 single, 134 per part + 6 UDH.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainon.domain.sms_encoding import Encoding, plan_segments

__all__ = [
    "DATA_CODING_GSM7",
    "DATA_CODING_UCS2",
    "ESM_CLASS_UDHI",
    "Concat",
    "MalformedPdu",
    "SubmitPart",
    "decode_text",
    "gsm7_decode",
    "gsm7_encode",
    "parse_udh",
    "pdu_text",
    "submit_parts",
]

DATA_CODING_GSM7 = 0x00
DATA_CODING_UCS2 = 0x08
ESM_CLASS_UDHI = 0x40
_ESC = 0x1B
_MAX_PARTS = 255  # the concatenation IE counts parts in one octet

# 3GPP TS 23.038 default alphabet, code point order 0x00-0x7F; 0x1B (ESC) holds a placeholder.
_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_BASIC_DECODE: dict[int, str] = dict(enumerate(_BASIC_TABLE))
_BASIC_ENCODE: dict[str, int] = {char: code for code, char in _BASIC_DECODE.items() if code != _ESC}
# Extension table: sent as ESC + code.
_EXTENSION_DECODE: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_EXTENSION_ENCODE: dict[str, int] = {char: code for code, char in _EXTENSION_DECODE.items()}


class MalformedPdu(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Concat:
    """Concatenation info of one part: which message (reference), how many parts, which one."""

    reference: int
    total: int
    sequence: int


@dataclass(frozen=True)
class SubmitPart:
    """One ``submit_sm``: ``short_message`` already starts with ``udh`` when there is one."""

    short_message: bytes
    data_coding: int
    esm_class: int
    udh: bytes
    sar_msg_ref_num: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None

    @property
    def payload(self) -> bytes:
        return self.short_message[len(self.udh) :]


def gsm7_encode(text: str) -> bytes:
    """Unpacked septets, one per byte; extension characters become ESC + code."""
    out = bytearray()
    for char in text:
        code = _BASIC_ENCODE.get(char)
        if code is not None:
            out.append(code)
        elif char in _EXTENSION_ENCODE:
            out += bytes((_ESC, _EXTENSION_ENCODE[char]))
        else:
            raise ValueError(f"{char!r} (U+{ord(char):04X}) is not in the GSM 03.38 alphabet")
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    """Inverse of ``gsm7_encode``, tolerant of what SMSCs really send.

    A trailing lone ESC is dropped; ESC + an unknown code shows the basic character (23.038
    6.2.1.1); ESC ESC shows a space (reserved); a byte above 0x7F is not a septet: U+FFFD.
    """
    chars: list[str] = []
    index = 0
    while index < len(data):
        code = data[index]
        index += 1
        if code == _ESC:
            if index >= len(data):
                break
            ext = data[index]
            index += 1
            if ext == _ESC:
                chars.append(" ")
            else:
                chars.append(_EXTENSION_DECODE.get(ext) or _BASIC_DECODE.get(ext, "\ufffd"))
        else:
            chars.append(_BASIC_DECODE.get(code, "\ufffd"))
    return "".join(chars)


def submit_parts(text: str, reference: int, use_sar: bool = False) -> list[SubmitPart]:
    """The ``submit_sm`` parts for ``text``, split as ``plan_segments`` priced it.

    Several parts carry a concatenation UDH ``05 00 03 ref total seq`` (8-bit ``reference &
    0xFF``, ``esm_class`` UDHI) or, with ``use_sar``, the SAR TLV values instead (16-bit
    ``reference & 0xFFFF``, no UDH, ``esm_class`` 0) for SMSCs that prefer them.
    """
    plan = plan_segments(text)
    if plan.encoding is Encoding.GSM7:
        data_coding, payloads = DATA_CODING_GSM7, [gsm7_encode(s) for s in plan.segments]
        single, per_part = 160, 153  # septets, one per byte when unpacked
    else:
        data_coding, payloads = DATA_CODING_UCS2, [s.encode("utf-16-be") for s in plan.segments]
        single, per_part = 140, 134  # octets
    total = len(payloads)
    if total > _MAX_PARTS:
        raise ValueError(f"{total} parts: concatenation allows at most {_MAX_PARTS}")
    limit = single if total == 1 else per_part
    if any(len(payload) > limit for payload in payloads):  # plan_segments guarantees it
        raise AssertionError(f"a part exceeds {limit} units")
    if total == 1:
        return [SubmitPart(payloads[0], data_coding, 0, b"")]
    parts: list[SubmitPart] = []
    for sequence, payload in enumerate(payloads, start=1):
        if use_sar:
            ref = reference & 0xFFFF
            parts.append(SubmitPart(payload, data_coding, 0, b"", ref, total, sequence))
        else:
            udh = bytes((0x05, 0x00, 0x03, reference & 0xFF, total, sequence))
            parts.append(SubmitPart(udh + payload, data_coding, ESM_CLASS_UDHI, udh))
    return parts


def parse_udh(short_message: bytes, esm_class: int) -> tuple[Concat | None, bytes]:
    """Split an inbound ``short_message`` into its concatenation info and its payload.

    Reads IEI 0x00 (8-bit reference) and 0x08 (16-bit reference) and skips other IEs. As
    23.040 asks, a concatenation IE with sequence 0 or beyond the total is ignored, and when
    it is repeated the last one wins. A length running past the buffer raises ``MalformedPdu``.
    """
    if not esm_class & ESM_CLASS_UDHI:
        return None, short_message
    if not short_message:
        raise MalformedPdu("UDHI set but short_message is empty")
    end = 1 + short_message[0]
    if end > len(short_message):
        raise MalformedPdu(f"UDH length {short_message[0]} exceeds {len(short_message) - 1}")
    concat: Concat | None = None
    index = 1
    while index < end:
        if index + 2 > end:
            raise MalformedPdu("truncated information element header")
        iei, length = short_message[index], short_message[index + 1]
        if index + 2 + length > end:
            raise MalformedPdu(f"IE 0x{iei:02X} length {length} exceeds the UDH")
        value = short_message[index + 2 : index + 2 + length]
        if iei in (0x00, 0x08):
            expected = 3 if iei == 0x00 else 4
            if length != expected:
                raise MalformedPdu(f"IE 0x{iei:02X} has length {length}, expected {expected}")
            reference = int.from_bytes(value[:-2], "big")
            total, sequence = value[-2], value[-1]
            valid = 1 <= sequence <= total
            concat = Concat(reference, total, sequence) if valid else None
        index += 2 + length
    return concat, short_message[end:]


def decode_text(payload: bytes, data_coding: int) -> str:
    """Text of an inbound payload (UDH already removed) for its ``data_coding``.

    0 and 1 are GSM-7 unpacked: node-smpp sends its GSM 03.38 "ASCII" encoding as 1 (IA5), so
    a true IA5 sender's ``$@_[]{}`` would read as GSM-7 letters; we favour the common case.
    8 is UTF-16-BE with replacement for an odd last byte or a lone surrogate. 0xF0-0xFF
    (message class group) is GSM-7 unless bit 2 says 8-bit. Anything else reads as Latin-1,
    which decodes every byte, so inbound text is never lost to an exception.
    """
    if data_coding in (0x00, 0x01) or (data_coding & 0xF4) == 0xF0:
        return gsm7_decode(payload)
    if data_coding == DATA_CODING_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    return payload.decode("latin-1")


def pdu_text(value: Any) -> str:
    """A C-octet string field as smpplib gives it (bytes up to their NUL, or a str)."""
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("ascii", errors="replace")
    return str(value or "")
