"""Tolerant SMPP delivery receipt parsing.

The receipt text of SMPP 3.4 Appendix B is only an example, and SMSCs vary it: key case,
field order, missing ``sub``/``text``, long or short ``stat`` names, dates with or without
seconds, message ids in hex where ``submit_sm_resp`` gave decimal (or the reverse). The SMPP
libraries parse one format or none, so we parse here, prefer the standard TLVs when present,
and give ``id_variants`` to match a receipt to the id we were given. Pure functions: no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "Outcome",
    "Receipt",
    "ReceiptState",
    "UnreadableReceipt",
    "id_variants",
    "parse_receipt",
]

ReceiptState = Literal["delivered", "failed", "expired", "accepted", "unknown", "enroute"]
Outcome = Literal["delivered", "failed", "expired"]


class UnreadableReceipt(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_STATS: dict[str, ReceiptState] = {
    "DELIVRD": "delivered",
    "DELIVERED": "delivered",
    "EXPIRED": "expired",
    "DELETED": "failed",
    "UNDELIV": "failed",
    "UNDELIVERABLE": "failed",
    "UNDELIVERED": "failed",
    "FAILED": "failed",
    "ACCEPTD": "accepted",
    "ACCEPTED": "accepted",
    "UNKNOWN": "unknown",
    "REJECTD": "failed",
    "REJECTED": "failed",
    "ENROUTE": "enroute",
}
# message_state TLV values, with the Appendix B names used as ``raw_stat``.
_MESSAGE_STATES: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_OUTCOMES: dict[ReceiptState, Outcome] = {
    "delivered": "delivered",
    "failed": "failed",
    "expired": "expired",
}

# A key starts the text or follows a separator; the first occurrence of each key wins, so a
# ``text:`` value quoting "id:" or "stat:" does not override the real fields.
_KEY = re.compile(
    r"(?<![^\s,;])(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat(?:us|e)?|err(?:or)?|text)\s*:",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Receipt:
    message_id: str
    state: ReceiptState
    error: str | None
    submitted: datetime | None
    done: datetime | None
    raw_stat: str | None

    @property
    def outcome(self) -> Outcome | None:
        """Chainon's message status, or None while the message is still on its way."""
        return _OUTCOMES.get(self.state)

    @property
    def failure_reason(self) -> str | None:
        """E.g. ``"UNDELIV err:034"`` for a failed or expired message, else None."""
        if self.outcome not in ("failed", "expired"):
            return None
        stat = self.raw_stat or self.state.upper()
        return f"{stat} err:{self.error}" if self.error else stat


def _text(value: bytes | str) -> str:
    raw = value.decode("latin-1") if isinstance(value, bytes) else value
    return raw.replace("\x00", " ").strip()


def _fields(text: str) -> dict[str, str]:
    matches: list[tuple[str, re.Match[str]]] = []
    seen: set[str] = set()
    for match in _KEY.finditer(text):
        key = re.sub(r"[ _]", "", match.group(1).lower())
        key = {"status": "stat", "state": "stat", "error": "err"}.get(key, key)
        if key not in seen:
            seen.add(key)
            matches.append((key, match))
    fields: dict[str, str] = {}
    for position, (key, match) in enumerate(matches):
        end = matches[position + 1][1].start() if position + 1 < len(matches) else len(text)
        fields[key] = text[match.end() : end].strip()
    return fields


def _date(value: str | None) -> datetime | None:
    """YYMMDDhhmm[ss] (20YY, not strptime's 1969-2068 pivot) or YYYYMMDDhhmmss, read as UTC.

    Anything else is None, not an error: a receipt with a strange date still tells the outcome.
    """
    if value is None or not value.isdigit() or len(value) not in (10, 12, 14):
        return None
    digits = value if len(value) == 14 else "20" + value
    try:  # the fields at their fixed places: a tenth of strptime's time, one per receipt
        month, day, hour, minute = (int(digits[i : i + 2]) for i in range(4, 12, 2))
        second = int(digits[12:14] or 0)
        return datetime(int(digits[:4]), month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        pass
    try:  # strptime also reads a field of one digit where two would not fit
        parsed = datetime.strptime(digits, "%Y%m%d%H%M%S" if len(digits) == 14 else "%Y%m%d%H%M")
        return parsed.replace(tzinfo=UTC)
    except ValueError:
        return None


def _tlv_state(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        value = int.from_bytes(value, "big") if value else None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int):
        return _MESSAGE_STATES.get(int(value), "UNKNOWN")
    if isinstance(value, str) and value.strip():
        return value.strip().upper()
    name = getattr(value, "name", None)  # an enum from the SMPP library
    return name if isinstance(name, str) else None


def _tlv_error(value: Any) -> str | None:
    """network_error_code: 3 octets (network type, 2-octet error), an int or a string."""
    if isinstance(value, bytes | bytearray):
        return f"{int.from_bytes(value[-2:], 'big'):03d}" if value else None
    if isinstance(value, int):
        return f"{value:03d}"
    if isinstance(value, str):
        return value.replace("\x00", "").strip() or None
    return None


def parse_receipt(short_message: bytes | str | None, tlvs: Mapping[str, Any]) -> Receipt:
    """Read a delivery receipt from its TLVs, falling back on the ``short_message`` text.

    ``receipted_message_id``, ``message_state`` and ``network_error_code`` win over the text;
    dates only come from the text. Raises ``UnreadableReceipt`` only when no id is found.
    """
    fields = _fields(_text(short_message)) if short_message is not None else {}
    tlv_id = tlvs.get("receipted_message_id")
    message_id = _text(tlv_id) if isinstance(tlv_id, bytes | str) else ""
    if not message_id:
        tokens = fields.get("id", "").split()
        message_id = tokens[0] if tokens else ""
    if not message_id:
        raise UnreadableReceipt(f"no message id in {short_message!r} or TLVs {sorted(tlvs)}")
    raw_stat = _tlv_state(tlvs.get("message_state")) or fields.get("stat") or None
    error = _tlv_error(tlvs.get("network_error_code")) or fields.get("err") or None
    state: ReceiptState = "unknown"
    if raw_stat is not None:
        state = _STATS.get(raw_stat.upper(), "unknown")
    return Receipt(
        message_id=message_id,
        state=state,
        error=error,
        submitted=_date(fields.get("submitdate")),
        done=_date(fields.get("donedate")),
        raw_stat=raw_stat,
    )


def id_variants(message_id: str) -> set[str]:
    """Normalised forms of a message id, to match a receipt to a ``submit_sm_resp`` id.

    Lower-cased, leading zeros stripped, hex ↔ decimal (``"1A2B"`` ↔ ``"6699"``), a UUID with
    and without dashes. Two ids match when their variants intersect. An all-digit id is both
    a decimal number and possibly hex, so distinct ids can collide: look the exact id up first
    and fall back on variants only when that finds nothing.
    """
    given = message_id.replace("\x00", "").strip()
    if not given:
        return set()
    lowered = given.lower()
    variants = {given, lowered, lowered.lstrip("0") or "0"}
    if len(lowered) <= 40:
        if lowered.isdigit():
            variants.add(format(int(lowered), "x"))
        elif re.fullmatch(r"(0x)?[0-9a-f]+", lowered):
            number = int(lowered, 16)
            variants |= {str(number), format(number, "x")}
    try:
        parsed = uuid.UUID(given)
    except ValueError:
        return variants
    return variants | {str(parsed), parsed.hex}
