"""The read-model store contract: SQLite and PostgreSQL pass the same tests.

A tally projection counts every fact it is shown, so a fact applied twice shows as a
count too high and a fact lost as one too low. Each backend's subclass gives a store on a
fresh database and a second store on the same database, as another process would open it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from chainon.projections.postgres import PostgresReadModels
from chainon.projections.projection import Fact, Projection, Table, Tx
from chainon.projections.read_model_store import SHADOW, ReadModelStore
from chainon.projections.sqlite import SQLiteReadModels
from tests.conftest import fresh_schema

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Tally(Projection):
    """Counts the facts of each key; ``Thing.Broken`` fails the batch it is in."""

    name = "tally"
    tables: ClassVar[Sequence[Table]] = (
        Table("tallies", "key TEXT PRIMARY KEY, n INTEGER NOT NULL", indexes=("n",)),
    )
    facts = frozenset({"Thing.Counted", "Thing.Broken"})

    def apply(self, tx: Tx, fact: Fact) -> None:
        if fact.type == "Thing.Broken":
            raise RuntimeError("a projection bug")
        tx.execute(
            "INSERT INTO {tallies} (key, n) VALUES (%(k)s, 1) "
            "ON CONFLICT (key) DO UPDATE SET n = {tallies}.n + 1",
            {"k": fact.data["key"]},
        )


class Sums(Projection):
    """Counts with ``Tx.add``: ``Thing.Counted`` adds one to its key's row (and its
    weight to a second counter), ``Thing.Seen`` only makes the row, and ``Thing.Noted``
    copies into ``notes`` what its key's row holds at that moment."""

    name = "sums"
    tables: ClassVar[Sequence[Table]] = (
        Table(
            "sums",
            "key TEXT NOT NULL, part TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, "
            "weight INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key, part)",
        ),
        Table("notes", "position INTEGER PRIMARY KEY, n INTEGER"),
    )
    facts = frozenset({"Thing.Counted", "Thing.Seen", "Thing.Noted"})

    def apply(self, tx: Tx, fact: Fact) -> None:
        key = {"key": fact.data["key"], "part": "p"}
        if fact.type == "Thing.Counted":
            tx.add("sums", key, {"n": 1})
            tx.add("sums", key, {"weight": 2})
        elif fact.type == "Thing.Seen":
            tx.add("sums", key, {})
        else:
            tx.execute(
                "INSERT INTO {notes} (position, n) SELECT %(p)s, n FROM {sums} WHERE key = %(k)s",
                {"p": fact.position, "k": fact.data["key"]},
            )


class Feed:
    """Facts as a store records them: versions per aggregate, positions growing."""

    def __init__(self) -> None:
        self.position = 0
        self.versions: dict[str, int] = {}

    def fact(self, aggregate: str, key: str = "k", kind: str = "Thing.Counted") -> Fact:
        self.position += 1
        self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        return Fact(kind, aggregate, self.versions[aggregate], self.position, T0, {"key": key})

    def batch(self, count: int, aggregate: str = "a", key: str = "k") -> list[Fact]:
        return [self.fact(aggregate, key) for _ in range(count)]


def tallies(store: ReadModelStore, projection: Projection | None = None) -> dict[str, int]:
    rows = store.query(projection or Tally(), "SELECT key, n FROM {tallies}", {})
    return {row["key"]: int(row["n"]) for row in rows}


def shadow_tallies(store: ReadModelStore, projection: Projection) -> dict[str, int]:
    sql = store.placeholders(store.names(projection, SHADOW).sql("SELECT key, n FROM {tallies}"))
    with store.transaction() as cur:
        rows = store.fetch(cur, sql, {})
    return {row["key"]: int(row["n"]) for row in rows}


class ReadModelStoreContract:
    """Every backend must pass these. Subclasses provide ``store`` and ``reader``."""

    @pytest.fixture
    def store(self) -> ReadModelStore:
        raise NotImplementedError("each backend's subclass provides a fresh store")

    @pytest.fixture
    def reader(self) -> ReadModelStore:
        raise NotImplementedError("each backend's subclass provides a second store")

    @pytest.fixture
    def tally(self, store: ReadModelStore) -> Tally:
        projection = Tally()
        store.create(projection)
        return projection

    # Exactly once

    def test_a_batch_is_applied_once_and_delivered_again_changes_nothing(
        self, store: ReadModelStore, tally: Tally
    ) -> None:
        feed = Feed()
        batch = [feed.fact("a", "x"), feed.fact("b", "y"), feed.fact("a", "x")]
        assert store.apply(tally, batch) == 2  # the aggregates that moved (not the facts)
        assert tallies(store) == {"x": 2, "y": 1}
        assert store.apply(tally, batch) == 0
        assert store.apply(tally, batch[1:]) == 0
        assert tallies(store) == {"x": 2, "y": 1}
        assert store.position(tally) == 3
        assert store.versions(tally, ["a", "b", "c"]) == {"a": 2, "b": 1}

    def test_projections_fed_together_apply_each_fact_once_as_each_alone_would(
        self, store: ReadModelStore, tally: Tally
    ) -> None:
        sums = Sums()
        store.create(sums)
        feed = Feed()
        first = [feed.fact("a", "x"), feed.fact("b", "y"), feed.fact("a", "x")]
        store.apply(tally, first[:1])  # the tally alone had seen the first fact
        with store.transaction() as cur:
            store.apply_all_in(cur, [tally, sums], first)
        with store.transaction() as cur:  # delivered again, and overlapping the next
            store.apply_all_in(cur, [tally, sums], [*first[1:], feed.fact("c", "x")])
        assert tallies(store) == {"x": 3, "y": 1}
        rows = store.query(sums, "SELECT key, n FROM {sums}", {})
        assert {r["key"]: int(r["n"]) for r in rows} == {"x": 3, "y": 1}
        for projection in (tally, sums):
            assert store.position(projection) == 4
            assert store.versions(projection, ["a", "b", "c"]) == {"a": 2, "b": 1, "c": 1}

    def test_added_counters_are_summed_once_and_read_as_added_so_far(
        self, store: ReadModelStore
    ) -> None:
        sums = Sums()
        store.create(sums)
        feed = Feed()
        batch = [
            feed.fact("a", "x"),
            feed.fact("b", "y", kind="Thing.Seen"),
            feed.fact("a", "x"),
            feed.fact("c", "x", kind="Thing.Noted"),  # reads what the batch added before it
            feed.fact("b", "x"),
        ]
        store.apply(sums, batch)
        store.apply(sums, batch)  # delivered again: nothing added twice
        store.apply(sums, [feed.fact("d", "x"), feed.fact("d", "z", kind="Thing.Noted")])
        rows = store.query(sums, "SELECT key, n, weight FROM {sums}", {})
        assert {r["key"]: (int(r["n"]), int(r["weight"])) for r in rows} == {
            "x": (4, 8),
            "y": (0, 0),
        }
        notes = store.query(sums, "SELECT position, n FROM {notes}", {})
        assert {int(r["position"]): int(r["n"]) for r in notes} == {4: 2}

    def test_a_batch_overlapping_the_last_applies_only_what_is_new(
        self, store: ReadModelStore, tally: Tally
    ) -> None:
        feed = Feed()
        first = feed.batch(5)
        second = feed.batch(3)
        store.apply(tally, first)
        store.apply(tally, first[2:] + second)  # a runner that crashed replays from fact 3
        assert tallies(store) == {"k": 8}
        assert store.versions(tally, ["a"]) == {"a": 8}

    def test_facts_the_projection_does_not_take_still_count_as_applied(
        self, store: ReadModelStore, tally: Tally
    ) -> None:
        feed = Feed()
        batch = [feed.fact("a", kind="Thing.Ignored"), feed.fact("a"), feed.fact("b", "z")]
        store.apply(tally, batch)
        assert tallies(store) == {"k": 1, "z": 1}
        assert store.versions(tally, ["a", "b"]) == {"a": 2, "b": 1}
        assert store.position(tally) == 3

    def test_a_failing_batch_leaves_no_row_no_version_and_no_position(
        self, store: ReadModelStore, tally: Tally
    ) -> None:
        feed = Feed()
        store.apply(tally, feed.batch(2))
        broken = [feed.fact("b", "y"), feed.fact("c", kind="Thing.Broken"), feed.fact("d", "z")]
        with pytest.raises(RuntimeError, match="a projection bug"):
            store.apply(tally, broken)
        assert tallies(store) == {"k": 2}
        assert store.versions(tally, ["b", "c", "d"]) == {}
        assert store.position(tally) == 2

    def test_a_pipelined_batch_applies_once_and_rolls_back_whole(
        self, store: ReadModelStore, tally: Tally
    ) -> None:
        feed = Feed()
        batch = [feed.fact(f"agg-{i}", f"key-{i % 7}") for i in range(300)]
        with store.transaction(pipelined=True) as cur:
            assert store.apply_in(cur, tally, batch) == 300
        with store.transaction(pipelined=True) as cur:
            assert store.apply_in(cur, tally, batch) == 0
        assert sum(tallies(store).values()) == 300
        with (
            pytest.raises(RuntimeError, match="a projection bug"),
            store.transaction(pipelined=True) as cur,
        ):
            store.apply_in(cur, tally, [*feed.batch(5), feed.fact("z", kind="Thing.Broken")])
        assert sum(tallies(store).values()) == 300
        assert store.position(tally) == 300

    def test_an_empty_batch_changes_nothing(self, store: ReadModelStore, tally: Tally) -> None:
        assert store.apply(tally, []) == 0
        assert store.position(tally) == 0
        assert tallies(store) == {}

    # Positions

    def test_the_position_only_moves_forward(self, store: ReadModelStore, tally: Tally) -> None:
        assert store.position(tally) == 0
        feed = Feed()
        late = feed.fact("late")  # position 1, delivered last (another partition)
        store.apply(tally, feed.batch(4))
        assert store.position(tally) == 5
        store.apply(tally, [late])
        assert store.position(tally) == 5
        assert tallies(store) == {"k": 5}

    def test_positions_are_kept_per_name_and_seen_by_another_connection(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        store.apply(tally, Feed().batch(3))
        with store.transaction() as cur:
            store.set_position_in(cur, "relay", 42)
            store.set_position_in(cur, "relay", 7)  # never backwards
        assert (store.named_position("relay"), reader.named_position("relay")) == (42, 42)
        assert reader.position(tally) == 3
        assert reader.position(tally, SHADOW) == 0
        assert reader.named_position("nobody") == 0

    # Reads

    def test_another_connection_reads_what_was_committed(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        feed = Feed()
        store.apply(tally, feed.batch(2, key="x") + feed.batch(1, "b", key="y"))
        assert tallies(reader) == {"x": 2, "y": 1}
        rows = reader.query(tally, "SELECT key FROM {tallies} WHERE n >= %(n)s", {"n": 2})
        assert rows == [{"key": "x"}]
        assert reader.versions(tally, ["a", "b"]) == {"a": 2, "b": 1}

    def test_nothing_of_a_transaction_is_read_before_its_commit(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        feed = Feed()
        with store.transaction() as cur:
            store.apply_in(cur, tally, feed.batch(3))
            assert tallies(reader) == {}
            assert reader.position(tally) == 0
        assert tallies(reader) == {"k": 3}

    def test_a_write_outside_the_feed_is_read_back(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        store.write(
            tally, "INSERT INTO {tallies} (key, n) VALUES (%(k)s, %(n)s)", {"k": "w", "n": 9}
        )
        assert tallies(reader) == {"w": 9}

    def test_creating_again_keeps_the_rows(self, store: ReadModelStore, tally: Tally) -> None:
        store.apply(tally, Feed().batch(2))
        store.create(tally)
        assert tallies(store) == {"k": 2}

    # Rebuilds: shadows filled, then swapped

    def test_a_shadow_fills_beside_the_live_model_unseen(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        live = Feed()
        store.apply(tally, live.batch(2, key="old"))
        store.create(tally, SHADOW)
        rebuild = Feed()
        assert store.apply(tally, rebuild.batch(5, key="new"), SHADOW) == 1
        assert tallies(reader) == {"old": 2}
        assert reader.position(tally) == 2
        assert reader.position(tally, SHADOW) == 5
        assert shadow_tallies(store, tally) == {"new": 5}

    def test_a_swap_makes_the_shadow_live_with_its_position_and_versions(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        store.apply(tally, Feed().batch(2, key="old"))
        store.create(tally, SHADOW)
        rebuild = Feed()
        replayed = rebuild.batch(6, key="new")
        store.apply(tally, replayed, SHADOW)

        store.swap(tally)

        assert tallies(reader) == {"new": 6}
        assert reader.position(tally) == 6
        assert reader.position(tally, SHADOW) == 0
        with store.transaction() as cur:
            assert not store.table_exists(cur, f"tallies{SHADOW}")
            assert store.table_exists(cur, "tallies")
        # The shadow's versions came along: the feed delivering them again changes nothing,
        # and the live model goes on from there.
        assert store.apply(tally, replayed) == 0
        store.apply(tally, [rebuild.fact("a", "new")])
        assert tallies(reader) == {"new": 7}

    def test_swapping_all_makes_each_shadow_live_after_its_catch_up(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        sums = Sums()
        store.create(sums)
        store.apply(tally, Feed().batch(2, key="old"))
        store.apply(sums, Feed().batch(2, key="old"))
        rebuild = Feed()
        replayed = rebuild.batch(3, key="new")
        for projection in (tally, sums):
            store.create(projection, SHADOW)
            store.apply(projection, replayed, SHADOW)
        meanwhile = [rebuild.fact("b", "later")]
        caught_up = []

        def catch_up(cur: Any, projection: Projection) -> None:
            store.apply_in(cur, projection, meanwhile, SHADOW)
            caught_up.append(projection.name)

        store.swap_all([tally, sums], catch_up)

        assert caught_up == ["tally", "sums"]
        assert tallies(reader) == {"new": 3, "later": 1}
        rows = reader.query(sums, "SELECT key, n FROM {sums}", {})
        assert {r["key"]: int(r["n"]) for r in rows} == {"new": 3, "later": 1}
        assert (reader.position(tally), reader.position(sums)) == (4, 4)
        assert (reader.position(tally, SHADOW), reader.position(sums, SHADOW)) == (0, 0)
        with store.transaction() as cur:
            assert not store.table_exists(cur, f"tallies{SHADOW}")
            assert not store.table_exists(cur, f"sums{SHADOW}")

    def test_a_swap_applies_what_came_meanwhile_in_its_own_transaction(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        store.create(tally, SHADOW)
        feed = Feed()
        store.apply(tally, feed.batch(3), SHADOW)
        meanwhile = feed.batch(2)

        def catch_up(cur: Any) -> None:
            store.apply_in(cur, tally, meanwhile, SHADOW)

        store.swap(tally, catch_up)
        assert tallies(reader) == {"k": 5}
        assert reader.position(tally) == 5

    def test_a_failing_catch_up_leaves_the_live_model_and_the_shadow_as_they_were(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        store.apply(tally, Feed().batch(1, key="old"))
        store.create(tally, SHADOW)
        feed = Feed()
        store.apply(tally, feed.batch(3, key="new"), SHADOW)

        def catch_up(cur: Any) -> None:
            store.apply_in(cur, tally, [feed.fact("x", kind="Thing.Broken")], SHADOW)

        with pytest.raises(RuntimeError, match="a projection bug"):
            store.swap(tally, catch_up)
        assert tallies(reader) == {"old": 1}
        assert shadow_tallies(store, tally) == {"new": 3}
        assert reader.position(tally, SHADOW) == 3

    def test_readers_during_a_swap_see_the_old_model_or_the_new_never_a_mix(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        old = {f"old-{i}": 1 for i in range(50)}
        new = {f"new-{i}": 2 for i in range(50)}
        old_feed, new_feed = Feed(), Feed()
        store.apply(tally, [old_feed.fact(f"a{i}", key) for i, key in enumerate(old)])
        store.create(tally, SHADOW)
        store.apply(
            tally, [new_feed.fact(f"a{i % 50}", key) for i, key in enumerate([*new, *new])], SHADOW
        )
        seen: list[dict[str, int] | BaseException] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                try:
                    seen.append(tallies(reader))
                except BaseException as exc:  # kept for the assertion below
                    seen.append(exc)

        thread = threading.Thread(target=read)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while old not in seen and time.monotonic() < deadline:  # reading before the swap
                time.sleep(0.01)
            store.swap(tally)
            time.sleep(0.05)
        finally:
            done.set()
            thread.join(10)
        assert seen[0] == old
        assert [s for s in seen if s not in (old, new)] == []
        assert seen[-1] == new

    def test_a_dropped_shadow_leaves_the_live_model(
        self, store: ReadModelStore, reader: ReadModelStore, tally: Tally
    ) -> None:
        store.apply(tally, Feed().batch(2))
        store.create(tally, SHADOW)
        store.apply(tally, Feed().batch(4), SHADOW)
        store.drop(tally, SHADOW)
        assert tallies(reader) == {"k": 2}
        assert reader.position(tally, SHADOW) == 0
        with store.transaction() as cur:
            assert not store.table_exists(cur, f"tallies{SHADOW}")
            assert not store.table_exists(cur, f"tally_versions{SHADOW}")


class TestSQLiteReadModels(ReadModelStoreContract):
    @pytest.fixture
    def path(self, tmp_path: Path) -> Path:
        return tmp_path / "views.sqlite3"

    @pytest.fixture
    def store(self, path: Path) -> Iterator[ReadModelStore]:
        store = SQLiteReadModels(path)
        yield store
        store.close()

    @pytest.fixture
    def reader(self, path: Path, store: ReadModelStore) -> Iterator[ReadModelStore]:
        store.ensure_positions()  # the file exists before a read-only connection opens it
        reader = SQLiteReadModels(path, read_only=True)
        yield reader
        reader.close()


@pytest.mark.postgres
class TestPostgresReadModels(ReadModelStoreContract):
    @pytest.fixture
    def schema(self, postgres_dsn: str) -> str:
        return fresh_schema(postgres_dsn)

    @pytest.fixture
    def store(self, postgres_dsn: str, schema: str) -> Iterator[ReadModelStore]:
        store = PostgresReadModels(postgres_dsn, schema, pool_size=2)
        yield store
        store.close()

    @pytest.fixture
    def reader(self, postgres_dsn: str, schema: str) -> Iterator[ReadModelStore]:
        reader = PostgresReadModels(postgres_dsn, schema, pool_size=1)
        yield reader
        reader.close()
