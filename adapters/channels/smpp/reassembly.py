"""Reassembly of concatenated inbound SMS (MO) parts into one message.

Handsets split long texts into parts that the SMSC delivers as separate ``deliver_sm`` PDUs,
in any order, sometimes twice, sometimes never. The SMPP libraries hand them over one by one,
so we join them here. This is only a state holder with no I/O and no clock: the caller keeps
it durable (``reassembly_store`` keeps every part in SQLite and ``restore``s them after a
restart; ``to_json``/``from_json`` carry the whole state at once) and decides when to call
``expire``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chainon.adapters.channels.smpp.codec import Concat

__all__ = ["GAP_MARKER", "Completed", "Reassembler"]

# Stands for each run of missing parts in the text of an expired, incomplete message.
GAP_MARKER = "[…]"
_FORMAT_VERSION = 1

_Key = tuple[str, str, int, int]  # sender, recipient, reference, total


@dataclass(frozen=True)
class Completed:
    sender: str
    recipient: str
    text: str
    parts_received: int
    total: int
    complete: bool
    # Which pending message it was: what a store forgets it by, and what names it for good.
    reference: int
    first_at: datetime


@dataclass
class _Pending:
    first_at: datetime
    parts: dict[int, str] = field(default_factory=dict)


class Reassembler:
    """Parts waiting for their siblings, keyed by (sender, recipient, reference, total).

    The total is part of the key because 8-bit references wrap around: a new message reusing
    a reference usually has another length. Age is measured from the first part received, so
    a message is held at most ``timeout`` however slowly its parts trickle in.
    """

    def __init__(self) -> None:
        self._pending: dict[_Key, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, sender: str, recipient: str, concat: Concat, text: str, at: datetime
    ) -> Completed | None:
        """Keep one part; return the whole message once every part arrived, else None.

        A part already received is ignored (the first copy is kept).
        """
        if not 1 <= concat.sequence <= concat.total:
            raise ValueError(f"part {concat.sequence} of {concat.total} is out of range")
        key = (sender, recipient, concat.reference, concat.total)
        pending = self._pending.setdefault(key, _Pending(first_at=at))
        pending.parts.setdefault(concat.sequence, text)
        if len(pending.parts) < concat.total:
            return None
        del self._pending[key]
        return _completed(key, pending)

    def restore(
        self, sender: str, recipient: str, concat: Concat, text: str, first_at: datetime
    ) -> None:
        """Put back a part kept before a restart, its message aged from ``first_at``.

        Unlike ``add`` it never completes a message: the part that completes one is not kept,
        it is delivered at once. So the state read back is the state that was written.
        """
        if not 1 <= concat.sequence <= concat.total:
            raise ValueError(f"part {concat.sequence} of {concat.total} is out of range")
        key = (sender, recipient, concat.reference, concat.total)
        pending = self._pending.setdefault(key, _Pending(first_at=first_at))
        pending.first_at = min(pending.first_at, first_at)
        pending.parts.setdefault(concat.sequence, text)

    def expire(self, now: datetime, timeout: timedelta) -> list[Completed]:
        """Give up on messages whose first part is older than ``timeout``, oldest first.

        Each comes back with ``complete=False`` and the parts received joined in order, every
        run of missing parts replaced by ``GAP_MARKER``: ``"Hello wor[…]see you"``.
        """
        stale = sorted(
            (item for item in self._pending.items() if now - item[1].first_at > timeout),
            key=lambda item: item[1].first_at,
        )
        for key, _ in stale:
            del self._pending[key]
        return [_completed(key, pending) for key, pending in stale]

    def to_json(self) -> str:
        pending = [
            {
                "sender": sender,
                "recipient": recipient,
                "reference": reference,
                "total": total,
                "first_at": item.first_at.isoformat(),
                "parts": {str(seq): text for seq, text in sorted(item.parts.items())},
            }
            for (sender, recipient, reference, total), item in self._pending.items()
        ]
        return json.dumps({"version": _FORMAT_VERSION, "pending": pending}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> Reassembler:
        state: dict[str, Any] = json.loads(data)
        if state.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported reassembly state version {state.get('version')!r}")
        reassembler = cls()
        for entry in state["pending"]:
            key = (
                str(entry["sender"]),
                str(entry["recipient"]),
                int(entry["reference"]),
                int(entry["total"]),
            )
            parts = {int(seq): str(text) for seq, text in entry["parts"].items()}
            first_at = datetime.fromisoformat(entry["first_at"])
            reassembler._pending[key] = _Pending(first_at=first_at, parts=parts)
        return reassembler


def _completed(key: _Key, pending: _Pending) -> Completed:
    sender, recipient, reference, total = key
    pieces: list[str] = []
    in_gap = False
    for sequence in range(1, total + 1):
        if sequence in pending.parts:
            pieces.append(pending.parts[sequence])
        elif not in_gap:
            pieces.append(GAP_MARKER)
        in_gap = sequence not in pending.parts
    return Completed(
        sender=sender,
        recipient=recipient,
        text="".join(pieces),
        parts_received=len(pending.parts),
        total=total,
        complete=len(pending.parts) == total,
        reference=reference,
        first_at=pending.first_at,
    )
