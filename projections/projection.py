"""What a projection is: facts in, rows out, in SQL that runs on SQLite and PostgreSQL.

A projection sees each public domain event as a ``Fact`` (the shape of the events topic, in
JSON types), whether it was read from the event store (embedded) or from Kafka
(distributed), so both feeds build the same rows. Its ``apply`` runs inside the batch's
transaction; the store around it makes the batch exactly-once.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class Fact:
    type: str  # "Conversation.MessageReceived"
    aggregate_id: str
    aggregate_version: int
    position: int  # in the store's notification log
    timestamp: datetime
    data: Mapping[str, Any]  # JSON types only: ids and times are strings

    @property
    def aggregate_type(self) -> str:
        return self.type.split(".", 1)[0]


class Tx(Protocol):
    """SQL inside one transaction. Statements name tables as ``{logical_name}`` and take
    pyformat parameters (``%(name)s``); each backend resolves both."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def lookup(self, table: str, key: str) -> dict[str, Any] | None:
        """The row of one of the projection's ``lookups`` (its columns), or ``None``."""
        ...

    def forget(self, table: str, key: str) -> None:
        """Called after writing a looked-up row, so that the next lookup reads it again."""
        ...

    def inserted(self, table: str, key: str, row: dict[str, Any]) -> None:
        """Called after inserting a looked-up row (``ON CONFLICT DO NOTHING`` or none), with
        its columns as the lookup reads them: held if a lookup had found no row there (the
        insert made it: no read again); a row held stays (the insert left it as it was)."""
        ...

    def add(self, table: str, key: Mapping[str, Any], counts: Mapping[str, int]) -> None:
        """Adds ``counts`` to the counters of the row at ``key`` (made with them if absent;
        with no counts, only made). Summed in memory for the batch and written in one
        statement a table, at the batch's end or before a statement naming the table: a
        counter bumped once a fact was a statement each (``INSERT … ON CONFLICT DO UPDATE``)."""
        ...


@dataclass(frozen=True)
class Table:
    name: str
    columns: str  # the column definitions, portable between SQLite and PostgreSQL
    indexes: Sequence[str] = ()  # each a column list, e.g. "brand_id, day"
    # Delivery bookkeeping that depends on the order facts arrived in (a change-feed
    # cursor), not on the facts: left out when a live model is compared with a rebuild.
    volatile: Sequence[str] = ()


@dataclass(frozen=True)
class Lookup:
    """A table the projection reads one row of per fact, by the fact's aggregate id (a
    conversation's contact, brand or campaign): read for a whole batch in one statement
    (``Tx.lookup``), not once a fact. The projection forgets (``Tx.forget``) a row it
    writes in that batch."""

    table: str
    key: str  # the column holding the aggregate id
    columns: str  # what a lookup returns, e.g. "contact_id" or "*"
    # False: keyed by something else than the facts' aggregates (a brand's settings, read
    # by its conversations' facts), read one key at a time, then held as the others are.
    by_aggregate: bool = True


class Projection(ABC):
    name: ClassVar[str]
    tables: ClassVar[Sequence[Table]]
    facts: ClassVar[frozenset[str]]  # the fact types it applies; others are not shown to it
    lookups: ClassVar[Sequence[Lookup]] = ()

    @abstractmethod
    def apply(self, tx: Tx, fact: Fact) -> None: ...


def one(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


@functools.lru_cache(maxsize=4096)  # every projection asks for each fact's time
def sortable_utc(at: datetime) -> str:
    """Fixed-width UTC text, so that comparing strings compares times on both backends."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")
