"""The read-model database: applies batches of facts exactly once, shadows and swaps.

Exactly once, even when a feed delivers again (Kafka is at-least-once, a crashed runner
replays its last batch): each projection remembers the last version it applied of every
aggregate, and the batch's rows, those versions and its position commit in one
transaction. Order holds within an aggregate on both feeds, which is all a projection
relies on.

A rebuild fills shadow tables (``<table>__shadow``) from the first event, then swaps them
in with renames inside one transaction, so the API never reads a half-built model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from chainon.projections.batch_tx import BatchTx, LookedUp, Names, chunks
from chainon.projections.projection import Fact, Projection

SHADOW = "__shadow"


class ReadModelStore(ABC):
    """One backend's read-model database (``projections.sqlite``, ``projections.postgres``)."""

    positions_table = "projection_positions"
    lock_clause = ""  # PostgreSQL: " FOR UPDATE", so a verify holds the runner still

    # What each backend provides

    @abstractmethod
    def transaction(
        self, *, pipelined: bool = False, read: bool = False
    ) -> AbstractContextManager[Any]:
        """A cursor-like object inside one transaction, committed on exit. ``pipelined``:
        the caller mostly writes, and the backend may send without waiting for answers.
        ``read``: the caller only reads, and the backend may take no writer's lock."""

    @abstractmethod
    def qualify(self, bare: str) -> str: ...

    @abstractmethod
    def placeholders(self, sql: str) -> str: ...

    @abstractmethod
    def fetch(self, cursor: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    @abstractmethod
    def table_exists(self, cursor: Any, bare: str) -> bool: ...

    def among(self, column: str, values: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """``column`` equal to one of ``values``: the condition and its parameters."""
        marks = ", ".join(f"%(a{i})s" for i in range(len(values)))
        return f"{column} IN ({marks})", {f"a{i}": v for i, v in enumerate(values)}

    def close(self) -> None:  # noqa: B027 - optional
        pass

    def lock_schema(self, cursor: Any) -> None:  # noqa: B027 - SQLite's writer lock suffices
        """Serialises creating tables across processes: two workers starting at once would
        otherwise collide in PostgreSQL's catalogue."""

    # Shared behaviour

    def names(self, projection: Projection, suffix: str = "") -> Names:
        """The projection's names, kept with their translated statements."""
        kept: dict[tuple[str, str], Names] = self.__dict__.setdefault("_names", {})
        found = kept.get((projection.name, suffix))
        if found is None or found.projection is not projection:
            found = Names(projection, suffix, self.qualify, self.placeholders)
            kept[(projection.name, suffix)] = found
        return found

    def create(self, projection: Projection, suffix: str = "") -> None:
        names = Names(projection, suffix, self.qualify)
        with self.transaction() as cur:
            self.lock_schema(cur)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.qualify(self.positions_table)} "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.qualify(names.bare['versions'])} "
                "(aggregate_id TEXT PRIMARY KEY, version BIGINT NOT NULL)"
            )
            for table in projection.tables:
                bare = names.bare[table.name]
                cur.execute(f"CREATE TABLE IF NOT EXISTS {self.qualify(bare)} ({table.columns})")
                for i, columns in enumerate(table.indexes):
                    index = f"{bare}_i{i}"
                    cur.execute(
                        f"CREATE INDEX IF NOT EXISTS {index} ON {self.qualify(bare)} ({columns})"
                    )

    def position(self, projection: Projection, suffix: str = "") -> int:
        return self.named_position(projection.name + suffix)

    def apply(self, projection: Projection, facts: Sequence[Fact], suffix: str = "") -> int:
        """Applies a batch in one transaction; returns how many aggregates it moved forward
        (facts already applied, replays, move none)."""
        if not facts:
            return 0
        with self.transaction() as cur:
            return self.apply_in(cur, projection, facts, suffix)

    def apply_in(
        self, cur: Any, projection: Projection, facts: Sequence[Fact], suffix: str = ""
    ) -> int:
        if not facts:
            return 0
        tx = BatchTx(self, cur, self.names(projection, suffix), facts)
        known = self._versions_in(cur, [projection], {f.aggregate_id for f in facts}, suffix)
        moved = self._apply_past(tx, projection, facts, known.get(projection.name, {}))
        self.set_position_in(cur, projection.name + suffix, max(f.position for f in facts))
        return moved

    def apply_all_in(
        self, cur: Any, projections: Sequence[Projection], facts: Sequence[Fact]
    ) -> None:
        """What ``apply_in`` does for each projection, with the versions they hold for the
        batch's aggregates read in one statement and their positions written in one: at a
        steady rate a batch holds a message or two, and these per-projection statements
        (three each, for a dozen projections) were most of a batch's cost."""
        if not facts or not projections:
            return
        held = self._versions_in(cur, projections, {f.aggregate_id for f in facts})
        for projection in projections:
            tx = BatchTx(self, cur, self.names(projection), facts)
            self._apply_past(tx, projection, facts, held.get(projection.name, {}))
        position = max(f.position for f in facts)
        self.set_positions_in(cur, {p.name: position for p in projections})

    def _versions_in(
        self,
        cur: Any,
        projections: Sequence[Projection],
        aggregate_ids: set[str],
        suffix: str = "",
    ) -> dict[str, dict[str, int]]:
        """Each projection's applied version of these aggregates (an aggregate it applied
        nothing of is absent), every projection read in one statement."""
        held: dict[str, dict[str, int]] = {}
        for chunk in chunks(sorted(aggregate_ids), 500):
            among, params = self.among("aggregate_id", chunk)
            sql = " UNION ALL ".join(
                f"SELECT {n} AS p, aggregate_id, version "
                f"FROM {self.qualify(self.names(projection, suffix).bare['versions'])} "
                f"WHERE {among}"
                for n, projection in enumerate(projections)
            )
            for r in self.fetch(cur, self.placeholders(sql), params):
                name = projections[int(r["p"])].name
                held.setdefault(name, {})[r["aggregate_id"]] = int(r["version"])
        return held

    def _apply_past(
        self, tx: BatchTx, projection: Projection, facts: Sequence[Fact], known: dict[str, int]
    ) -> int:
        """Applies the facts past the versions ``known``; records the new versions."""
        changed: dict[str, int] = {}
        for fact in facts:
            if known.get(fact.aggregate_id, 0) >= fact.aggregate_version:
                continue  # applied before: a replay
            known[fact.aggregate_id] = changed[fact.aggregate_id] = fact.aggregate_version
            if fact.type in projection.facts:
                projection.apply(tx, fact)
        tx.settle()
        self.write_versions_in(tx.cursor, projection, changed, tx.names.suffix)
        return len(changed)

    def apply_new_in(
        self,
        cur: Any,
        projection: Projection,
        facts: Sequence[Fact],
        suffix: str,
        looked_up: LookedUp | None = None,
    ) -> None:
        """Applies facts the caller knows are new to the projection, neither reading nor
        writing its versions: a rebuild's shadow, private to it, reads the store in order
        and keeps the versions itself (``write_versions_in``) until its swap or verify.

        ``looked_up``: the rows of the projection's lookups read so far, kept from one
        batch to the next by a caller that alone writes the tables (a shadow): the
        projection forgets every row it writes, so a row held is the table's."""
        tx = BatchTx(self, cur, self.names(projection, suffix), facts, looked_up)
        for fact in facts:
            if fact.type in projection.facts:
                projection.apply(tx, fact)
        tx.settle()

    def write_versions_in(
        self, cur: Any, projection: Projection, versions: Mapping[str, int], suffix: str = ""
    ) -> None:
        """Records these aggregates' applied versions, in one statement."""
        if versions:
            BatchTx(self, cur, self.names(projection, suffix)).execute_many(
                "INSERT INTO {versions} (aggregate_id, version) VALUES (%(a)s, %(v)s) "
                "ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version",
                [{"a": aggregate_id, "v": version} for aggregate_id, version in versions.items()],
            )

    def versions(self, projection: Projection, aggregate_ids: Iterable[str]) -> dict[str, int]:
        """The version of each of these aggregates the projection has applied (an aggregate
        it has applied nothing of is absent)."""
        with self.transaction(read=True) as cur:
            held = self._versions_in(cur, [projection], set(aggregate_ids))
        return held.get(projection.name, {})

    def set_position_in(self, cur: Any, name: str, position: int) -> None:
        self.set_positions_in(cur, {name: position})

    def set_positions_in(self, cur: Any, positions: Mapping[str, int]) -> None:
        """Moves each name's position forward (never back), in one statement."""
        table = self.qualify(self.positions_table)
        cur.executemany(
            self.placeholders(
                f"INSERT INTO {table} (name, position) VALUES (%(n)s, %(p)s) "
                f"ON CONFLICT (name) DO UPDATE SET position = CASE WHEN excluded.position > "
                f"{table}.position THEN excluded.position ELSE {table}.position END"
            ),
            [{"n": name, "p": position} for name, position in positions.items()],
        )

    def named_position(self, name: str) -> int:
        with self.transaction(read=True) as cur:
            return self.named_position_in(cur, name)

    def named_position_in(self, cur: Any, name: str, *, lock: bool = False) -> int:
        table = self.qualify(self.positions_table)
        sql = f"SELECT position FROM {table} WHERE name = %(n)s" + (
            self.lock_clause if lock else ""
        )
        rows = self.fetch(cur, self.placeholders(sql), {"n": name})
        return int(rows[0]["position"]) if rows else 0

    def ensure_positions(self) -> None:
        with self.transaction() as cur:
            self.lock_schema(cur)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.qualify(self.positions_table)} "
                "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )

    def query(
        self, projection: Projection, sql: str, params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        return self._run(projection, sql, params, read=True)

    def write(
        self, projection: Projection, sql: str, params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """A read-model change outside the feed (a queue claim's bookkeeping)."""
        return self._run(projection, sql, params, read=False)

    def _run(
        self, projection: Projection, sql: str, params: Mapping[str, Any], *, read: bool
    ) -> list[dict[str, Any]]:
        names = Names(projection, "", self.qualify)
        with self.transaction(read=read) as cur:
            return self.fetch(cur, self.placeholders(names.sql(sql)), params)

    def drop(self, projection: Projection, suffix: str) -> None:
        names = Names(projection, suffix, self.qualify)
        with self.transaction() as cur:
            for bare in names.bare.values():
                cur.execute(f"DROP TABLE IF EXISTS {self.qualify(bare)}")
            cur.execute(
                self.placeholders(
                    f"DELETE FROM {self.qualify(self.positions_table)} WHERE name = %(n)s"
                ),
                {"n": projection.name + suffix},
            )

    def swap(self, projection: Projection, catch_up: Any = None) -> None:
        """The shadow becomes the live model in one transaction, the old one dropped in it.

        ``catch_up(cursor)`` runs first in that transaction, to apply what the store
        recorded since the shadow's last batch: nothing falls between the two models.
        """
        self.swap_all([projection], None if catch_up is None else lambda cur, _: catch_up(cur))

    def swap_all(self, projections: Sequence[Projection], catch_up: Any = None) -> None:
        """``swap`` for several projections in one transaction (``catch_up(cursor,
        projection)`` for each). Every live table is dropped before any shadow is renamed:
        SQLite checks its whole schema at each rename, and the schema is then half as big."""
        with self.transaction() as cur:
            for projection in projections:
                self.named_position_in(cur, projection.name, lock=True)
            if catch_up is not None:
                for projection in projections:
                    catch_up(cur, projection)
            for projection in projections:
                for bare in Names(projection, "", self.qualify).bare.values():
                    cur.execute(f"DROP TABLE IF EXISTS {self.qualify(bare)}")
            for projection in projections:
                for table_def in projection.tables:
                    for i, _ in enumerate(table_def.indexes):
                        old_index = f"{table_def.name}{SHADOW}_i{i}"
                        self.rename_index(cur, old_index, f"{table_def.name}_i{i}")
            for projection in projections:
                live, shadow = (
                    Names(projection, "", self.qualify),
                    Names(projection, SHADOW, self.qualify),
                )
                for key, bare in live.bare.items():
                    cur.execute(f"ALTER TABLE {self.qualify(shadow.bare[key])} RENAME TO {bare}")
                position = self.named_position_in(cur, projection.name + SHADOW)
                table = self.qualify(self.positions_table)
                cur.execute(
                    self.placeholders(f"DELETE FROM {table} WHERE name IN (%(a)s, %(b)s)"),
                    {"a": projection.name, "b": projection.name + SHADOW},
                )
                self.set_position_in(cur, projection.name, position)
        for projection in projections:
            self.create(projection)  # any index a backend could not rename

    def rename_index(self, cur: Any, old: str, new: str) -> None:
        cur.execute(f"ALTER INDEX {self.qualify(old)} RENAME TO {new}")

    def dump_in(self, cur: Any, projection: Projection, suffix: str = "") -> dict[str, list[str]]:
        """Every row of every table, sorted: what ``verify`` compares."""
        names = Names(projection, suffix, self.qualify)
        out = {}
        for table in projection.tables:
            rows = self.fetch(cur, f"SELECT * FROM {self.qualify(names.bare[table.name])}", {})
            out[table.name] = sorted(
                repr(tuple(str(v) for k, v in row.items() if k not in table.volatile))
                for row in rows
            )
        return out
