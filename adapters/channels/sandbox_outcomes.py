"""What the sandbox was told to do with a recipient's messages, on disk and shared.

The API sets an outcome (``PUT /v1/sandbox/outcomes/{address}``) in the process that
serves it; the sandbox that sends may run in another process (the embedded mode's child
that dispatches). Both open this small SQLite file: the setter writes a row, the sender
reads the table again whenever ``PRAGMA data_version`` says another connection changed
it, which costs one cheap query per send and nothing more while nothing changes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import UUID

from chainon.domain.channels import Channel

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_outcomes (
    brand TEXT NOT NULL,  -- '' for every brand
    channel TEXT NOT NULL,  -- '' for every channel
    recipient TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (brand, channel, recipient)
)
"""

# Whose messages, on which channel, to which recipient; None: every brand, every channel.
OutcomeKey = tuple[UUID | None, Channel | None, str]


class SharedOutcomes:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            self._db = db
        return self._db

    def put(self, key: OutcomeKey, outcome: str) -> None:
        brand, channel, recipient = key
        self._conn().execute(
            "INSERT INTO sandbox_outcomes VALUES (?, ?, ?, ?) "
            "ON CONFLICT (brand, channel, recipient) DO UPDATE SET outcome = excluded.outcome",
            (str(brand or ""), channel.value if channel else "", recipient, outcome),
        )

    def changed(self) -> dict[OutcomeKey, str] | None:
        """Every outcome, when another connection wrote since the last call (the first
        call reads them all); None when nothing changed."""
        db = self._conn()
        version = int(db.execute("PRAGMA data_version").fetchone()[0])
        if version == self._version:
            return None
        self._version = version
        rows = db.execute("SELECT brand, channel, recipient, outcome FROM sandbox_outcomes")
        return {
            (UUID(brand) if brand else None, Channel(channel) if channel else None, recipient): (
                outcome
            )
            for brand, channel, recipient, outcome in rows
        }

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
