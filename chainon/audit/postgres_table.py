"""The audit table in the PostgreSQL store's schema, guarded by a trigger that refuses
UPDATE, DELETE and TRUNCATE to every role the application connects as (only its owner,
by dropping the trigger on purpose, could change it)."""

from __future__ import annotations

import json
from typing import Any

from chainon.audit.trail import REFUSAL, TABLE, AuditEntry, AuditFilter, NewEntry

_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL,
    brand_id uuid NOT NULL, actor text NOT NULL, action text NOT NULL, subject text NOT NULL,
    request_id text, detail jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS {index} ON {table} (brand_id, id);
CREATE OR REPLACE FUNCTION {refuse}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '{refusal}' USING ERRCODE = 'insufficient_privilege'; END $$;
CREATE OR REPLACE TRIGGER chainon_audit_no_change BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {refuse}();
CREATE OR REPLACE TRIGGER chainon_audit_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {refuse}();
"""


class PostgresAuditTable:
    def __init__(self, dsn: str, schema: str) -> None:
        from psycopg.sql import SQL, Identifier
        from psycopg_pool import ConnectionPool

        from chainon.event_store import racing_creation

        self.table = Identifier(schema, TABLE)
        self.pool: ConnectionPool[Any] = ConnectionPool(
            dsn, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True
        )
        create = SQL(_CREATE.replace("{refusal}", REFUSAL)).format(
            table=self.table,
            index=Identifier(f"{TABLE}_brand"),
            refuse=Identifier(schema, f"{TABLE}_refuse_change"),
        )

        def created() -> None:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute(create)

        racing_creation(created)

    def append(self, entry: NewEntry) -> None:
        from psycopg.sql import SQL
        from psycopg.types.json import Jsonb

        query = SQL(
            "INSERT INTO {} (at, brand_id, actor, action, subject, request_id, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(self.table)
        params = (
            entry.at,
            entry.brand_id,
            entry.actor,
            entry.action,
            entry.subject,
            entry.request_id,
            Jsonb(dict(entry.detail)),
        )
        with self.pool.connection() as conn:
            conn.execute(query, params)

    def entries(self, where: AuditFilter) -> list[AuditEntry]:
        from psycopg.sql import SQL

        clauses: list[str] = ["brand_id = %s"]
        params: list[object] = [where.brand_id]
        for clause, value in (
            ("actor = %s", where.actor),
            ("action = %s", where.action),
            ("at >= %s", where.since),
            ("at <= %s", where.until),
            ("id < %s", where.before),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        query = SQL(
            "SELECT id, at, brand_id, actor, action, subject, request_id, detail FROM {}"
            f" WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT %s"
        ).format(self.table)
        with self.pool.connection() as conn:
            rows = conn.execute(query, [*params, where.limit]).fetchall()
        return [_entry(row) for row in rows]

    def close(self) -> None:
        self.pool.close()


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    id_, at, brand_id, actor, action, subject, request_id, detail = row
    return AuditEntry(
        at=at,
        brand_id=brand_id,
        actor=actor,
        action=action,
        subject=subject,
        request_id=request_id,
        detail=detail if isinstance(detail, dict) else json.loads(detail),
        id=int(id_),
    )
