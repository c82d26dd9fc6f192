"""Which parts of which messages the SMSC already accepted, and under which ids.

``ChannelProvider.send`` must be idempotent on ``message_id``: the dispatch hands a message
again when its outbound record is redelivered (a worker restarted before committing its
offset, a retry after a timeout that hid a success). Without this ledger a second ``send``
was a second ``submit_sm``: a second SMS on the consumer's phone, a second receipt. Each
accepted part is written here as soon as its ``submit_sm_resp`` arrives; a send finds the
parts already accepted and submits only the others (so a long message cut by a drop
half-way is completed, not sent twice).

Kept in the link's state file beside the MO parts when the link has a ``state_dir``
(``synchronous=NORMAL``: a process crash loses nothing, a power cut may lose the last
entries, i.e. at worst the duplicate this prevents); in memory otherwise. Entries older than
``keep`` are dropped when the link starts: a record is redelivered within minutes or hours.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from chainon.adapters.channels.smpp.state_db import LinkStateDb

__all__ = ["SentLedger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_parts (
    message_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    smsc_id TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    PRIMARY KEY (message_id, part)
)
"""


class SentLedger:
    """One link's accepted parts, in its state file (``state_db``)."""

    def __init__(self, path: Path | None, name: str = "smpp", keep: timedelta = timedelta(days=7)):
        self.path = path
        self.keep = keep
        self._db = LinkStateDb(
            path,
            thread=f"{name}-sent",
            schema=_SCHEMA,
            synchronous="NORMAL",
            what="the SMPP sent ledger",
        )

    async def open(self) -> None:
        await self._db.open(self._forget_old)

    async def accepted(self, message_id: UUID) -> dict[int, str]:
        """The parts of ``message_id`` the SMSC accepted: part index → its id."""
        rows = await self._db.read(
            "SELECT part, smsc_id FROM sent_parts WHERE message_id = ?",
            (str(message_id),),
        )
        return {int(part): str(smsc_id) for part, smsc_id in rows}

    async def record(self, message_id: UUID, part: int, smsc_id: str) -> None:
        await self._db.write(
            "INSERT OR IGNORE INTO sent_parts VALUES (?, ?, ?, ?)",
            (str(message_id), part, smsc_id, datetime.now(UTC).isoformat()),
        )

    async def close(self) -> None:
        await self._db.close()

    def _forget_old(self, db: sqlite3.Connection) -> None:
        oldest = (datetime.now(UTC) - self.keep).isoformat()
        db.execute("DELETE FROM sent_parts WHERE accepted_at < ?", (oldest,))
