"""The RBM revocations this dispatcher saw succeed, kept on disk.

RBM answers a revocation with 200 once; asked again, the message no longer exists and the
answer is 404 — which is also its answer for a message already delivered. A dispatcher that
crashed after the 200 but before publishing it would, on the redelivered request, read the
404 as "delivered" and the consumer would get neither the RCS message nor its SMS. Keeping
each 200 here before answering narrows that to the instant between RBM's answer and this
commit.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from uuid import UUID


class RevocationLedger:
    def __init__(self, path: Path | None = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path) if path else ":memory:", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS revoked (message_id TEXT PRIMARY KEY) WITHOUT ROWID"
        )

    def record(self, message_id: UUID) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO revoked VALUES (?)", (str(message_id),))

    def revoked(self, message_id: UUID) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM revoked WHERE message_id = ?", (str(message_id),)
            ).fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock:
            self._db.close()
