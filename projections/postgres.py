"""Read models in PostgreSQL, for the distributed mode."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from projections.store import ReadModelStore


class PostgresReadModels(ReadModelStore):
    lock_clause = " FOR UPDATE"

    def __init__(self, dsn: str, schema: str = "public", pool_size: int = 4) -> None:
        self.schema = schema
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, kwargs={"row_factory": dict_row}, open=True
        )

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def qualify(self, bare: str) -> str:
        return f'"{self.schema}".{bare}'

    def placeholders(self, sql: str) -> str:
        return sql

    def fetch(self, cursor: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        cursor.execute(sql, dict(params))
        if cursor.description is None:
            return []
        return list(cursor.fetchall())

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
