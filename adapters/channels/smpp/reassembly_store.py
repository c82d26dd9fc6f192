"""The parts of concatenated MO messages still waiting for their siblings, kept in SQLite.

A part answered with ``deliver_sm_resp`` is never sent again by the SMSC, so it must outlive
the process that answered it: each part is committed here before its answer goes out, and
read back into a ``Reassembler`` when the link starts again. One row per part (not the whole
state at once), so a write stays one small insert however many messages are pending.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from chainon.adapters.channels.smpp.codec import Concat
from chainon.adapters.channels.smpp.reassembly import Completed, Reassembler
from chainon.adapters.channels.smpp.state_db import LinkStateDb

__all__ = ["PartStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mo_parts (
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    reference INTEGER NOT NULL,
    total INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    text TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (sender, recipient, reference, total, sequence)
)
"""


class PartStore:
    """One link's pending MO parts, in its state file (``state_db``). ``synchronous=FULL``:
    the SMSC is told a part is safe right after it is committed here."""

    def __init__(self, path: Path | None, name: str = "smpp") -> None:
        self.path = path
        self._db = LinkStateDb(
            path,
            thread=f"{name}-mo",
            schema=_SCHEMA,
            synchronous="FULL",
            what="the MO part store",
        )

    async def open(self) -> Reassembler:
        """Opens (creating the file and its directory if needed) and reads back every part."""
        await self._db.open()
        return await self.load()

    async def keep(
        self, sender: str, recipient: str, concat: Concat, text: str, received_at: datetime
    ) -> None:
        """Commits one part; a copy of a part already kept changes nothing (the first stays,
        as in the ``Reassembler``)."""
        await self._db.write(
            "INSERT OR IGNORE INTO mo_parts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sender,
                recipient,
                concat.reference,
                concat.total,
                concat.sequence,
                text,
                received_at.isoformat(),
            ),
        )

    async def forget(self, message: Completed) -> None:
        """Removes the parts of a message the sink accepted (whole, or partial once expired)."""
        await self._db.write(
            "DELETE FROM mo_parts WHERE sender = ? AND recipient = ? AND reference = ?"
            " AND total = ?",
            (message.sender, message.recipient, message.reference, message.total),
        )

    async def load(self) -> Reassembler:
        """Every kept part, as a ``Reassembler``: the truth to go back to when the one in
        memory went ahead of what was committed."""
        rows = await self._db.read(
            "SELECT sender, recipient, reference, total, sequence, text, received_at"
            " FROM mo_parts ORDER BY received_at, sequence",
            (),
        )
        reassembler = Reassembler()
        for sender, recipient, reference, total, sequence, text, received_at in rows:
            reassembler.restore(
                sender,
                recipient,
                Concat(reference, total, sequence),
                text,
                datetime.fromisoformat(received_at),
            )
        return reassembler

    async def close(self) -> None:
        await self._db.close()
