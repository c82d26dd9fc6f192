"""The followers of one process share the run of notifications read last (``SQLiteLog``):
whatever the order of writes and reads, each read answers what the store itself would."""

from __future__ import annotations

import tempfile
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from hypothesis import given, settings
from hypothesis import strategies as st

from chainon.adapters.persistence import sqlite as sqlite_log
from chainon.adapters.persistence.port import log_of

WRITE = st.tuples(st.just("write"), st.integers(1, 30))
READ = st.tuples(
    st.just("read"),
    st.integers(1, 120),  # start
    st.integers(1, 40),  # limit
    st.none() | st.integers(1, 120),  # stop
)


def recorder_on(path: Path) -> SQLiteApplicationRecorder:
    recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(path)))
    recorder.create_table()
    return recorder


def write(recorder: SQLiteApplicationRecorder, count: int) -> None:
    recorder.insert_events(
        [
            StoredEvent(originator_id=uuid4(), originator_version=1, topic="t", state=b"s")
            for _ in range(count)
        ]
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(WRITE, READ), min_size=1, max_size=40), st.integers(5, 60))
def test_every_read_answers_what_the_store_would(operations: list[tuple], held: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "store.sqlite3"
        reader = recorder_on(path)
        writer = recorder_on(path)  # another connection, as another process's core
        log = log_of(reader)
        assert log_of(reader) is log  # one per recorder: its followers share it
        original, sqlite_log.HELD = sqlite_log.HELD, held
        try:
            for operation in operations:
                if operation[0] == "write":
                    write(writer, operation[1])
                    continue
                _, start, limit, stop = operation
                got = log.notifications(start, limit, stop)
                expected = reader.select_notifications(start=start, limit=limit, stop=stop)
                assert [(n.id, n.originator_id) for n in got] == [
                    (n.id, n.originator_id) for n in expected
                ]
        finally:
            sqlite_log.HELD = original


def test_a_follower_reading_where_another_did_asks_the_store_only_for_what_is_new(
    tmp_path: Path,
) -> None:
    reader = recorder_on(tmp_path / "store.sqlite3")
    write(reader, 10)
    log = log_of(reader)
    asked: list[tuple[int, int]] = []
    select = log._select  # type: ignore[attr-defined]

    def counted(start: int, limit: int, stop: int | None) -> object:
        asked.append((start, limit))
        return select(start, limit, stop)

    log._select = counted  # type: ignore[attr-defined]
    assert [n.id for n in log.notifications(1, 100)] == list(range(1, 11))  # the relay
    assert [n.id for n in log.notifications(1, 100)] == list(range(1, 11))  # the views
    write(reader, 5)
    assert [n.id for n in log.notifications(4, 100)] == list(range(4, 16))  # the outbox
    # only what the run did not hold: nothing new for the views, the five new rows for the outbox
    assert asked == [(1, 100), (11, 90), (11, 93)]


def test_a_run_read_past_the_held_one_is_not_joined_to_it_across_a_gap(tmp_path: Path) -> None:
    reader = recorder_on(tmp_path / "store.sqlite3")
    log = log_of(reader)
    write(reader, 10)
    assert len(log.notifications(1, 100)) == 10
    write(reader, 10)
    assert [n.id for n in log.notifications(13, 100)] == list(range(13, 21))
    assert [n.id for n in log.notifications(1, 100)] == list(range(1, 21))


def test_a_trimmed_run_answers_only_for_what_it_still_holds(tmp_path: Path) -> None:
    reader = recorder_on(tmp_path / "store.sqlite3")
    log = log_of(reader)
    write(reader, 20)
    original, sqlite_log.HELD = sqlite_log.HELD, 5
    try:
        assert [n.id for n in log.notifications(1, 8)] == list(range(1, 9))  # holds 4..8
        assert [n.id for n in log.notifications(9, 8)] == list(range(9, 17))  # then 12..16
        assert [n.id for n in log.notifications(5, 8)] == list(range(5, 13))
    finally:
        sqlite_log.HELD = original
