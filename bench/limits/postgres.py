"""Raw PostgreSQL: batched inserts of event-sized rows into eventsourcing's table shape.

The table is the one eventsourcing's PostgreSQL application recorder creates (uuid, bigint,
text, bytea, a ``bigserial`` notification id with its unique index); rows go in with
psycopg's ``executemany`` (pipelined by psycopg 3), 100 rows a transaction, no table
lock and no ``RETURNING``: what eventsourcing adds on top (``LOCK TABLE … IN EXCLUSIVE
MODE`` and ``NOTIFY`` per transaction, the ids read back) is part of the gap to the limit.
With psycopg's pure-Python libpq wrapper, executemany's per-row work in the client is most
of this limit, so the same rows are also sent as one multi-row INSERT per transaction and
that rate is kept as an extra figure.
"""

from __future__ import annotations

import time
from typing import Any

from bench.limits.rows import batches, stored_events
from bench.registry import (
    ROW_BYTES,
    ROWS_PER_TRANSACTION,
    Context,
    Kind,
    Service,
    measurement,
)
from bench.result import Latency, Missing, Result, own_peak_rss


@measurement("postgres.insert", Kind.LIMIT, needs={Service.POSTGRES})
def postgres_insert(ctx: Context) -> Result:
    """Batched executemany into PostgreSQL, 100 event-sized rows a transaction."""
    import psycopg

    schema = ctx.fresh_schema()
    rows = stored_events(ctx.counts.rows, ctx.counts.conversations)
    table = f'"{schema}".stored_events'
    with psycopg.connect(ctx.require_postgres(), autocommit=True) as conn:
        for name in ("stored_events", "multi_row"):
            conn.execute(
                f'CREATE TABLE "{schema}".{name} (originator_id uuid NOT NULL, '
                "originator_version bigint NOT NULL, topic text, state bytea, "
                "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
            )
            conn.execute(f'CREATE UNIQUE INDEX ON "{schema}".{name} (notification_id ASC)')
        statement = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s)"
        )
        commits: list[float] = []
        started = time.perf_counter()
        for batch in batches(rows):
            begun = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(statement, batch)
            commits.append(time.perf_counter() - begun)
        seconds = time.perf_counter() - started
        stored = _count(conn, table)
        # For the record, beside the limit: one multi-row INSERT a transaction, the
        # same rows, shows how much of the limit is the client's per-row work.
        started = time.perf_counter()
        for batch in batches(rows):
            values = ", ".join(["(%s, %s, %s, %s)"] * len(batch))
            with conn.transaction():
                conn.execute(
                    f'INSERT INTO "{schema}".multi_row (originator_id, originator_version, '
                    f"topic, state) VALUES {values}",
                    [field for row in batch for field in row],
                )
        multi_row_seconds = time.perf_counter() - started
        multi_row_stored = _count(conn, f'"{schema}".multi_row')
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if stored != len(rows) or multi_row_stored != len(rows):
        raise Missing(f"{stored} and {multi_row_stored} rows stored of {len(rows)}")
    return Result(
        name="postgres.insert",
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
            "method": "executemany (psycopg 3 pipeline), no table lock, no RETURNING",
            "psycopg_impl": psycopg.pq.__impl__,  # "python" (ctypes libpq), "c" or "binary"
            "multi_row_insert_rows_per_second": round(len(rows) / multi_row_seconds, 1),
        },
    )


def _count(conn: Any, table: str) -> int:
    row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
