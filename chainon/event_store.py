"""Which event store the core runs on: the eventsourcing environment for each backend."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import IntegrityError, InternalError, ProgrammingError

from chainon.settings import Settings, StoreKind

T = TypeVar("T")


def store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the configured store (SQLite in WAL, or PostgreSQL)."""
    if settings.store is StoreKind.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", **postgres_env(settings)}


def postgres_env(settings: Settings) -> dict[str, str]:
    dsn = urlsplit(settings.postgres_dsn)
    env = {
        "POSTGRES_DBNAME": dsn.path.lstrip("/") or "chainon",
        "POSTGRES_HOST": dsn.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(dsn.port or 5432),
        "POSTGRES_USER": unquote(dsn.username or "chainon"),
        "POSTGRES_PASSWORD": unquote(dsn.password or ""),
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_CONNECT_TIMEOUT": "10",
    }
    if settings.postgres_schema:
        env["POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


def racing_creation(create: Callable[[], T], attempts: int = 5) -> T:
    """Runs something that creates tables, again if another process created them meanwhile.

    PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent twin: two
    workers starting at once can collide on the catalogue (a duplicate key, "relation …
    already exists", or, for eventsourcing's ``CREATE OR REPLACE FUNCTION``, "tuple
    concurrently updated"); the second try finds the table. A real error in the statements
    fails the same way every time, and is raised after the last attempt.
    """
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except (IntegrityError, InternalError, ProgrammingError):
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")
