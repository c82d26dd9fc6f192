"""The sandbox's receipts still to come, on disk, so that a restart does not lose them.

The sandbox promises every message it accepted a receipt after a delay. Kept only as a
timer, that promise died with the process: a dispatch stopped (or killed) in that delay
left its messages ``sent`` for good, in the demo too. Each promise is written here when
the message is accepted and crossed off once its receipt is on the bus; a started sandbox
sends those left, at once if they are overdue.

A small SQLite file, written on the event loop: a row per message, in WAL mode with
``synchronous=NORMAL`` (a killed process loses nothing; the sandbox is no production
channel, so the cost of a thread per write is not worth paying).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_receipts (
    provider_message_id TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    due REAL NOT NULL
)
"""


@dataclass(frozen=True)
class PendingReceipt:
    provider_message_id: str
    outcome: str
    due: float  # seconds since the epoch


class PendingReceipts:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def open(self) -> list[PendingReceipt]:
        """Opens the file; returns the receipts a previous run owed, oldest first."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        self._db = db
        rows = db.execute(
            "SELECT provider_message_id, outcome, due FROM pending_receipts ORDER BY due"
        )
        return [PendingReceipt(*row) for row in rows]

    def owe(self, provider_message_id: str, outcome: str, delay: float) -> None:
        """A message accepted again keeps its first promise."""
        if self._db is not None:
            self._db.execute(
                "INSERT INTO pending_receipts VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (provider_message_id, outcome, time.time() + delay),
            )

    def paid(self, provider_message_id: str) -> None:
        """Its receipt is on the bus, or it will never have one (revoked)."""
        if self._db is not None:
            self._db.execute(
                "DELETE FROM pending_receipts WHERE provider_message_id = ?",
                (provider_message_id,),
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
