"""One projection's writes within a batch's transaction: the ``Tx`` its ``apply`` is given.

Statements run for consecutive facts are held and sent together, counters are summed in
memory until the batch settles, and looked-up rows are read once for the batch's
aggregates. ``Names`` maps a projection's logical table names to the physical ones (its
schema, a rebuild's shadow suffix).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chainon.projections.projection import Fact, Lookup, Projection

if TYPE_CHECKING:  # the store makes a BatchTx for each projection of a batch
    from chainon.projections.read_model_store import ReadModelStore

# A projection's lookup rows: table → key → row (``None``: no row).
LookedUp = dict[str, dict[str, dict[str, Any] | None]]
_NAME = re.compile(r"\{(\w+)\}")


class Names:
    """Logical table names → physical ones (schema, shadow suffix)."""

    def __init__(
        self, projection: Projection, suffix: str, qualify: Any, placeholders: Any = None
    ) -> None:
        self.projection = projection
        self.suffix = suffix
        self.qualify = qualify
        self.placeholders = placeholders
        self.bare = {t.name: f"{t.name}{suffix}" for t in projection.tables}
        self.bare["versions"] = f"{projection.name}_versions{suffix}"
        self._statements: dict[str, str] = {}
        self._tables: dict[str, frozenset[str]] = {}

    def sql(self, statement: str) -> str:
        return _NAME.sub(lambda m: self.qualify(self.bare[m.group(1)]), statement)

    def statement(self, sql: str) -> str:
        """``sql`` as the backend runs it; a projection's statements are few and fixed, so
        each is translated once (the regular expressions were a third of a batch's time)."""
        found = self._statements.get(sql)
        if found is None:
            found = self.sql(sql) if self.placeholders is None else self.placeholders(self.sql(sql))
            self._statements[sql] = found
        return found

    def tables(self, sql: str) -> frozenset[str]:
        """The logical tables ``sql`` names."""
        found = self._tables.get(sql)
        if found is None:
            found = self._tables[sql] = frozenset(_NAME.findall(sql))
        return found


class BatchTx:
    """A projection's writes in a batch's transaction (the ``Tx`` a projection is given)."""

    def __init__(
        self,
        store: ReadModelStore,
        cursor: Any,
        names: Names,
        facts: Sequence[Fact] = (),
        looked_up: LookedUp | None = None,
    ) -> None:
        self.store = store
        self.cursor = cursor
        self.names = names
        self.facts = facts
        self._held: LookedUp = {} if looked_up is None else looked_up
        self._read_for_batch: set[str] = set()  # the lookup tables read for the batch
        # (table, key columns) → key values → counters: what `add` holds until `settle`.
        self._sums: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], dict[str, int]]] = {}
        # The same statement run for consecutive facts (a conversation's row updated at
        # each message), held and sent in one ``executemany``: the same statements in the
        # same order, without psycopg's per-call work (a third of a distributed rebuild).
        self._pending_sql = ""
        self._pending: list[Mapping[str, Any]] = []

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        if self._sums:
            self._settle_for(sql)
        if sql != self._pending_sql:
            self._flush()
            self._pending_sql = sql
        self._pending.append(dict(params or {}))  # a copy: the caller may reuse its dict

    def execute_many(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        if self._sums:
            self._settle_for(sql)
        self._flush()
        self.cursor.executemany(self.names.statement(sql), params)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        if self._sums:
            self._settle_for(sql)
        self._flush()
        return self.store.fetch(self.cursor, self.names.statement(sql), params or {})

    def _flush(self) -> None:
        """Runs the statements held, before anything else reads or writes."""
        if not self._pending:
            return
        statement, held = self.names.statement(self._pending_sql), self._pending
        self._pending = []
        if len(held) == 1:
            self.cursor.execute(statement, held[0])
        else:
            self.cursor.executemany(statement, held)

    def add(self, table: str, key: Mapping[str, Any], counts: Mapping[str, int]) -> None:
        rows = self._sums.setdefault((table, tuple(key)), {})
        values = tuple(key.values())
        held = rows.get(values)
        if held is None:
            rows[values] = dict(counts)
            return
        for column, n in counts.items():
            held[column] = held.get(column, 0) + n

    def settle(self) -> None:
        """Writes every sum `add` holds and every statement held (the batch's end)."""
        for group in list(self._sums):
            self._write_sums(group)
        self._flush()

    def _settle_for(self, sql: str) -> None:
        """Writes the sums of the tables ``sql`` names, so that it reads or changes them as
        if each `add` had been a statement of its own; the other sums are on other tables,
        which that statement does not see, so writing them later changes nothing."""
        named = self.names.tables(sql)
        for group in [group for group in self._sums if group[0] in named]:
            self._write_sums(group)

    def _write_sums(self, group: tuple[str, tuple[str, ...]]) -> None:
        table, keys = group
        rows = self._sums.pop(group)
        counters = sorted({column for counts in rows.values() for column in counts})
        marks = ", ".join(f"%(p{i})s" for i in range(len(keys) + len(counters)))
        change = (
            "DO UPDATE SET " + ", ".join(f"{c} = {{{table}}}.{c} + excluded.{c}" for c in counters)
            if counters
            else "DO NOTHING"
        )
        self.execute_many(
            f"INSERT INTO {{{table}}} ({', '.join((*keys, *counters))}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(keys)}) {change}",
            [
                {
                    f"p{i}": value
                    for i, value in enumerate((*key, *(counts.get(c, 0) for c in counters)))
                }
                for key, counts in rows.items()
            ],
        )

    def lookup(self, table: str, key: str) -> dict[str, Any] | None:
        """Read for every aggregate of the batch at the first lookup in the table: the
        per-fact reads were a round trip each, half of a rebuild's statements. Inside the
        batch's transaction, that read sees the batch's own writes made so far."""
        held = self._held.setdefault(table, {})
        if table not in self._read_for_batch and self._lookup(table).by_aggregate:
            self._read_for_batch.add(table)
            unknown = {f.aggregate_id for f in self.facts if f.aggregate_id not in held}
            if unknown:
                held.update(self._read(table, unknown))
        if key not in held:
            held.update(self._read(table, {key}))
        return held[key]

    def forget(self, table: str, key: str) -> None:
        held = self._held.get(table)
        if held is not None:
            held.pop(key, None)

    def inserted(self, table: str, key: str, row: dict[str, Any]) -> None:
        """A conversation's row inserted after the batch's read found none was, on
        PostgreSQL, a round trip of its own at its next fact (2,000 a --quick rebuild)."""
        held = self._held.get(table)
        if held is not None and key in held and held[key] is None:
            held[key] = row

    def _lookup(self, table: str) -> Lookup:
        (lookup,) = (found for found in self.names.projection.lookups if found.table == table)
        return lookup

    def _read(self, table: str, keys: set[str]) -> dict[str, dict[str, Any] | None]:
        lookup = self._lookup(table)
        read: dict[str, dict[str, Any] | None] = dict.fromkeys(keys)
        for chunk in chunks(sorted(keys), 500):
            among, params = self.store.among(lookup.key, chunk)
            for row in self.rows(
                f"SELECT {lookup.key} AS looked_up_, {lookup.columns} FROM {{{table}}} "
                f"WHERE {among}",
                params,
            ):
                read[str(row.pop("looked_up_"))] = row
        return read


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
