"""Which event store the core runs on: the eventsourcing environment for each backend."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import IntegrityError, InternalError, ProgrammingError

from chainon.errors import CannotStart
from chainon.settings import Settings, StoreKind

T = TypeVar("T")


# The table every Chainon store has (eventsourcing names it after the application).
EVENTS_TABLE = "chainon_events"


def check_store(settings: Settings, *, create: bool) -> None:
    """Before the store opens: a store that is not there (``create`` off) or a server that
    does not answer is one line naming the setting to change.

    Opened blind, SQLite creates an empty store wherever the command was run from (and a
    mistyped directory then holds "0 brands"), and PostgreSQL's pool retries in the
    background for its whole timeout before failing with a message that names no host.
    """
    if settings.store is StoreKind.SQLITE:
        path = settings.sqlite_path.absolute()
        if not create and not path.is_file():
            raise CannotStart(
                f"no Chainon store at {path} (`chainon serve` or `chainon brands create` "
                "makes one; --data-dir chooses another directory)",
                setting="CHAINON_DATA_DIR",
            )
        return
    _check_postgres(settings, create=create)


def _check_postgres(settings: Settings, *, create: bool) -> None:
    import psycopg  # only a PostgreSQL store needs the driver

    env = postgres_env(settings)
    where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
    table = (
        f"{settings.postgres_schema}.{EVENTS_TABLE}" if settings.postgres_schema else EVENTS_TABLE
    )
    try:
        with psycopg.connect(settings.postgres_dsn, connect_timeout=5) as connection:
            found = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    except psycopg.Error as exc:
        raise CannotStart(
            f"PostgreSQL at {where} cannot be used: {_reason(exc)}",
            setting="CHAINON_POSTGRES_DSN",
        ) from None
    if not create and (found is None or found[0] is None):
        raise CannotStart(
            f"no Chainon store in PostgreSQL at {where}/{env['POSTGRES_DBNAME']} "
            f"(no table {table}; `chainon serve` or `chainon brands create` makes one)",
            setting="CHAINON_POSTGRES_SCHEMA"
            if settings.postgres_schema
            else "CHAINON_POSTGRES_DSN",
        )


def _reason(exc: Exception) -> str:
    """psycopg's first line without its preamble (``connection to server at "…", port …
    failed: ``), which repeats the address already named."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return " ".join(first.rsplit(" failed: ", 1)[-1].split())


def store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the configured store (SQLite in WAL, or PostgreSQL)."""
    if settings.store is StoreKind.SQLITE:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CannotStart(
                f"cannot create {settings.data_dir.absolute()}: {exc.strerror}",
                setting="CHAINON_DATA_DIR",
            ) from None
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
