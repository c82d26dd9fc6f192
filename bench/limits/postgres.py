"""Raw PostgreSQL: batched inserts of event-sized rows into eventsourcing's table shape.

The table is the one eventsourcing's PostgreSQL application recorder creates (uuid, bigint,
text, bytea, a ``bigserial`` notification id with its unique index); rows go in with
psycopg's ``executemany`` (pipelined by psycopg 3), 100 rows a transaction, no table
lock and no ``RETURNING``: what eventsourcing adds on top (``LOCK TABLE … IN EXCLUSIVE
MODE`` and ``NOTIFY`` per transaction, the ids read back) is part of the gap to the limit.
"""

from __future__ import annotations

import time

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
        conn.execute(
            f"CREATE TABLE {table} (originator_id uuid NOT NULL, originator_version bigint "
            "NOT NULL, topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute(f"CREATE UNIQUE INDEX ON {table} (notification_id ASC)")
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
        row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    stored = row[0] if row else 0
    if stored != len(rows):
        raise Missing(f"{stored} rows stored of {len(rows)}")
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
        },
    )
