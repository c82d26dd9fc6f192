"""Raw SQLite: batched inserts of event-sized rows, as eventsourcing's SQLite store writes them.

Same table as eventsourcing's application recorder (rowid as the notification id, primary
key on originator and version), same connection (autocommit, explicit ``BEGIN``) and the
same pragmas: WAL journal, SQLite's default ``synchronous`` (FULL), which is what Chainon's
store runs with (``chainon/event_store.py`` sets nothing else). ``executemany``, 100 rows a
transaction.
"""

from __future__ import annotations

import sqlite3
import time

from bench.limits.rows import batches, stored_events
from bench.registry import ROW_BYTES, ROWS_PER_TRANSACTION, Context, Kind, measurement
from bench.result import Latency, Missing, Result, own_peak_rss


@measurement("sqlite.insert", Kind.LIMIT)
def sqlite_insert(ctx: Context) -> Result:
    """Batched inserts into SQLite (WAL), 100 event-sized rows a transaction."""
    rows = stored_events(ctx.counts.rows, ctx.counts.conversations)
    db = sqlite3.connect(ctx.data_dir / "raw.sqlite3", isolation_level=None, timeout=10)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        synchronous = db.execute("PRAGMA synchronous").fetchone()[0]
        commits: list[float] = []
        started = time.perf_counter()
        for batch in batches(rows):
            begun = time.perf_counter()
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
                [(o.hex, v, t, s) for o, v, t, s in batch],
            )
            db.execute("COMMIT")
            commits.append(time.perf_counter() - begun)
        seconds = time.perf_counter() - started
        stored = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
    finally:
        db.close()
    if stored != len(rows):
        raise Missing(f"{stored} rows stored of {len(rows)}")
    return Result(
        name="sqlite.insert",
        mode="raw",
        count=len(rows),
        seconds=seconds,
        unit="rows",
        latency=Latency.of(commits),
        latency_of=f"transaction of {ROWS_PER_TRANSACTION} rows",
        rss={"bench": own_peak_rss()},
        extra={
            "row_bytes": ROW_BYTES,
            "rows_per_transaction": ROWS_PER_TRANSACTION,
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                synchronous, str(synchronous)
            ),
            "method": "executemany",
        },
    )
