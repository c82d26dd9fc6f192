"""Read models in PostgreSQL, for the distributed mode."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import Pipeline
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from chainon.projections.projection import Projection
from chainon.projections.read_model_store import ReadModelStore


class PostgresReadModels(ReadModelStore):
    lock_clause = " FOR UPDATE"

    def __init__(self, dsn: str, schema: str = "public", pool_size: int = 4) -> None:
        self.schema = schema
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, kwargs={"row_factory": dict_row}, open=True
        )
        self._pipelines: dict[int, Pipeline] = {}  # by cursor, while a pipelined one is open

    @contextmanager
    def transaction(self, *, pipelined: bool = False, read: bool = False) -> Iterator[Any]:
        """``pipelined``: statements are sent without waiting for each answer (libpq's
        pipeline mode), and a read waits only for what was sent before it. Applying a
        batch of facts is mostly writes, one round trip each otherwise: the distributed
        views spent their time waiting on the network. An error surfaces at the next
        read or at the commit, and still rolls the whole transaction back. ``read`` changes
        nothing: PostgreSQL's readers never wait for a writer."""
        with self._pool.connection() as conn:
            if not pipelined:
                with conn.transaction(), conn.cursor() as cursor:
                    yield cursor
                return
            with conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as cursor:
                self._pipelines[id(cursor)] = pipeline
                try:
                    yield cursor
                finally:
                    del self._pipelines[id(cursor)]

    def qualify(self, bare: str) -> str:
        return f'"{self.schema}".{bare}'

    def placeholders(self, sql: str) -> str:
        return sql

    def fetch(self, cursor: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        pipeline = self._pipelines.get(id(cursor))
        if pipeline is None:
            cursor.execute(sql, dict(params))
            return [] if cursor.description is None else list(cursor.fetchall())
        # Every answer sent so far is taken first, and the read has a cursor of its own:
        # on a cursor with writes still in flight, psycopg could hand back a write's
        # result instead of the rows (seen on batches of a thousand facts).
        pipeline.sync()
        with cursor.connection.cursor() as reading:
            reading.execute(sql, dict(params))
            return list(reading.fetchall())

    def among(self, column: str, values: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """One array parameter: psycopg parsed a query of 500 placeholders afresh each time
        (past 50 it caches none), a twentieth of a distributed rebuild's process."""
        return f"{column} = ANY(%(among)s)", {"among": list(values)}

    def write_versions_in(
        self, cur: Any, projection: Projection, versions: Mapping[str, int], suffix: str = ""
    ) -> None:
        """One statement of two arrays: an ``executemany`` row was psycopg's per-row work
        and a statement for the server, 11,000 at the end of a --quick rebuild."""
        if versions:
            table = self.qualify(self.names(projection, suffix).bare["versions"])
            cur.execute(
                f"INSERT INTO {table} (aggregate_id, version) "
                "SELECT * FROM unnest(%(a)s::text[], %(v)s::bigint[]) "
                "ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version",
                {"a": list(versions), "v": list(versions.values())},
            )

    def table_exists(self, cursor: Any, bare: str) -> bool:
        cursor.execute("SELECT to_regclass(%s) AS found", (self.qualify(bare),))
        row = cursor.fetchone()
        return row is not None and row["found"] is not None

    def lock_schema(self, cursor: Any) -> None:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"chainon-views:{self.schema}",)
        )

    def close(self) -> None:
        self._pool.close()
