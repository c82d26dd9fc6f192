"""The audit table contract: SQLite and PostgreSQL keep the same entries, answer the same
filters, and refuse every UPDATE and DELETE, even one written by hand in SQL.

Each backend's subclass gives a table on a fresh database and ``by_hand``: a statement
run on that database outside Chainon, as an operator with the application's rights would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from chainon.audit import Action, AuditFilter, AuditTrail, audit_trail_of, record_erasure
from chainon.audit.postgres_table import PostgresAuditTable
from chainon.audit.sqlite_table import SQLiteAuditTable
from chainon.audit.trail import REFUSAL, TABLE, AuditTable
from chainon.settings import StoreKind
from tests.conftest import fresh_schema, make_settings

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ACME, OTHER = uuid4(), uuid4()

ByHand = Callable[[str], None]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class AuditTableContract:
    """Every backend must pass these. Subclasses provide ``table``, ``again`` (a second
    table on the same database, as another process opens it) and ``by_hand``."""

    @pytest.fixture
    def table(self) -> AuditTable:
        raise NotImplementedError("each backend's subclass provides a fresh table")

    @pytest.fixture
    def again(self) -> AuditTable:
        raise NotImplementedError("each backend's subclass opens the table a second time")

    @pytest.fixture
    def by_hand(self) -> ByHand:
        raise NotImplementedError("each backend's subclass runs SQL on the table's database")

    @pytest.fixture
    def trail(self, table: AuditTable) -> AuditTrail:
        trail = AuditTrail(table, Clock())
        trail.record(ACME, "key:aaaaaaaaaaaa", Action.CONVERSATION_READ, "c-1", "req-1")
        trail.record(ACME, "agent:alice", Action.REPLY_SENT, "c-1", "req-2", {"status": "queued"})
        trail.record(OTHER, "key:bbbbbbbbbbbb", Action.CONTACT_READ, "p-9", "req-3")
        record_erasure(trail, ACME, UUID(int=7), "cli:root", detail={"events": 12})
        return trail

    def everything(self, trail: AuditTrail, brand: UUID = ACME) -> list[tuple[str, str, str]]:
        return [(e.actor, e.action, e.subject) for e in trail.entries(AuditFilter(brand))]

    def test_entries_come_back_newest_first_with_all_they_were_given(
        self, trail: AuditTrail
    ) -> None:
        found = trail.entries(AuditFilter(ACME))
        assert [(e.actor, e.action, e.subject, e.request_id) for e in found] == [
            ("cli:root", "contact.erased", str(UUID(int=7)), None),
            ("agent:alice", "reply.sent", "c-1", "req-2"),
            ("key:aaaaaaaaaaaa", "conversation.read", "c-1", "req-1"),
        ]
        assert [e.at for e in found] == [T0 + timedelta(minutes=m) for m in (4, 2, 1)]
        assert {e.brand_id for e in found} == {ACME}
        assert (found[0].detail, found[1].detail, found[2].detail) == (
            {"events": 12},
            {"status": "queued"},
            {},
        )

    def test_a_brand_sees_only_its_own_entries(self, trail: AuditTrail) -> None:
        assert self.everything(trail, OTHER) == [("key:bbbbbbbbbbbb", "contact.read", "p-9")]
        assert self.everything(trail, uuid4()) == []

    def test_the_filters_and_the_page_marker(self, trail: AuditTrail) -> None:
        def ids(**given: object) -> list[str]:
            where = AuditFilter(ACME, **given)  # type: ignore[arg-type]
            return [e.action for e in trail.entries(where)]

        assert ids(actor="agent:alice") == ["reply.sent"]
        assert ids(action="conversation.read") == ["conversation.read"]
        assert ids(since=T0 + timedelta(minutes=2)) == ["contact.erased", "reply.sent"]
        assert ids(until=T0 + timedelta(minutes=2)) == ["reply.sent", "conversation.read"]
        paris = datetime(2026, 12, 3, 10, 2, tzinfo=timezone(timedelta(hours=1)))  # 09:02 UTC
        assert ids(since=paris, until=paris) == ["reply.sent"]
        first = trail.entries(AuditFilter(ACME, limit=1))
        assert ids(before=first[0].id) == ["reply.sent", "conversation.read"]

    def test_another_process_sees_the_entries_and_opening_twice_changes_nothing(
        self, trail: AuditTrail, again: AuditTable
    ) -> None:
        assert self.everything(AuditTrail(again, Clock())) == self.everything(trail)

    @pytest.mark.parametrize(
        "statement",
        [
            f"UPDATE {TABLE} SET actor = 'someone else'",
            f"UPDATE {TABLE} SET detail = '{{}}' WHERE action = 'contact.erased'",
            f"DELETE FROM {TABLE}",
            f"DELETE FROM {TABLE} WHERE actor = 'agent:alice'",
        ],
    )
    def test_an_update_or_delete_by_hand_is_refused(
        self, trail: AuditTrail, by_hand: ByHand, statement: str
    ) -> None:
        before = trail.entries(AuditFilter(ACME))
        with pytest.raises(Exception, match=REFUSAL):
            by_hand(statement)
        assert trail.entries(AuditFilter(ACME)) == before


class TestSQLiteAuditTable(AuditTableContract):
    @pytest.fixture
    def path(self, tmp_path: Path) -> Path:
        return tmp_path / "chainon.sqlite3"

    @pytest.fixture
    def table(self, path: Path) -> SQLiteAuditTable:
        return SQLiteAuditTable(path)

    @pytest.fixture
    def again(self, path: Path, table: SQLiteAuditTable) -> SQLiteAuditTable:
        return SQLiteAuditTable(path)

    @pytest.fixture
    def by_hand(self, path: Path) -> ByHand:
        def run(statement: str) -> None:
            with sqlite3.connect(path) as db:
                db.execute(statement)

        return run


class TestSQLiteAuditTableThroughTheStore(TestSQLiteAuditTable):
    """The entries written through the event store's own connections, as a runtime with
    the store's writer does: the same table, the same refusals."""

    @pytest.fixture
    def table(self, path: Path) -> Iterator[SQLiteAuditTable]:
        recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(path)))
        recorder.create_table()
        writes: list[object] = []

        def transaction() -> AbstractContextManager[Any]:
            writes.append(None)
            return recorder.datastore.transaction(commit=True)

        table = SQLiteAuditTable(path, transaction)
        yield table
        assert writes  # every entry went through the store's transactions
        recorder.datastore.close()


@pytest.mark.postgres
class TestPostgresAuditTable(AuditTableContract):
    @pytest.fixture
    def schema(self, postgres_dsn: str) -> str:
        return fresh_schema(postgres_dsn)

    @pytest.fixture
    def table(self, postgres_dsn: str, schema: str) -> Iterator[PostgresAuditTable]:
        table = PostgresAuditTable(postgres_dsn, schema)
        yield table
        table.close()

    @pytest.fixture
    def again(
        self, postgres_dsn: str, schema: str, table: PostgresAuditTable
    ) -> Iterator[PostgresAuditTable]:
        again = PostgresAuditTable(postgres_dsn, schema)
        yield again
        again.close()

    @pytest.fixture
    def by_hand(self, postgres_dsn: str, schema: str) -> ByHand:
        import psycopg

        def run(statement: str) -> None:
            with psycopg.connect(postgres_dsn, autocommit=True) as conn:
                conn.execute(f'SET search_path TO "{schema}"')
                conn.execute(statement)  # type: ignore[arg-type]

        return run

    def test_truncate_is_refused_too(self, trail: AuditTrail, by_hand: ByHand) -> None:
        with pytest.raises(Exception, match=REFUSAL):
            by_hand(f"TRUNCATE {TABLE}")
        assert len(trail.entries(AuditFilter(ACME))) == 3


@pytest.mark.parametrize(
    "store", [StoreKind.SQLITE, pytest.param(StoreKind.POSTGRES, marks=pytest.mark.postgres)]
)
def test_the_trail_lives_in_the_stores_own_database(
    store: StoreKind, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dsn = request.getfixturevalue("postgres_dsn") if store is StoreKind.POSTGRES else None
    settings = make_settings(store, tmp_path, dsn)
    trail = audit_trail_of(settings, Clock())
    try:
        trail.record(ACME, "cli:root", Action.KEY_ISSUED, "aaaaaaaaaaaa")
    finally:
        trail.close()
    if store is StoreKind.SQLITE:
        with sqlite3.connect(settings.sqlite_path) as db:
            rows = db.execute(f"SELECT actor, action FROM {TABLE}").fetchall()
    else:
        import psycopg

        with psycopg.connect(settings.postgres_dsn) as conn:
            rows = conn.execute(
                f'SELECT actor, action FROM "{settings.postgres_schema}".{TABLE}'  # type: ignore[arg-type]
            ).fetchall()
    assert rows == [("cli:root", "key.issued")]


def test_sqlite_entries_recorded_at_once_from_many_threads_are_each_committed_on_return(
    tmp_path: Path,
) -> None:
    """The SQLite table holds one connection and groups concurrent entries into one
    transaction: each ``record`` returns only once its entry is readable elsewhere."""
    import threading

    path = tmp_path / "chainon.sqlite3"
    trail = AuditTrail(SQLiteAuditTable(path), Clock())
    seen: dict[str, int] = {}

    def record(n: int) -> None:
        trail.record(ACME, f"key:{n:012d}", Action.MESSAGE_SENT, f"c-{n}", f"req-{n}")
        with sqlite3.connect(path) as db:  # another connection, as another process
            (found,) = db.execute(
                f"SELECT count(*) FROM {TABLE} WHERE request_id = ?", (f"req-{n}",)
            ).fetchone()
        seen[f"req-{n}"] = found

    threads = [threading.Thread(target=record, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    trail.close()
    assert seen == {f"req-{n}": 1 for n in range(40)}
    assert (
        len(AuditTrail(SQLiteAuditTable(path), Clock()).entries(AuditFilter(ACME, limit=100))) == 40
    )
    trail.record(ACME, "cli:root", Action.KEY_ISSUED, "after-close")  # reopens its writer
    assert trail.entries(AuditFilter(ACME, limit=1))[0].subject == "after-close"
