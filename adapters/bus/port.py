"""The bus port: publish keyed records, consume them as a group, commit after processing.

Two implementations sit behind it: Apache Kafka (``adapters.bus.kafka``) for the distributed
mode and a durable log in SQLite (``adapters.bus.embedded``) for the embedded default.
Records with the same key keep their order; a consumer sees a record again until its
group committed past it, so every handler must be idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    timestamp_ms: int = 0


class BusUnavailable(Exception):
    """The bus could not take or give records (broker down, file locked); try again."""


class Consumer(Protocol):
    async def start(self) -> None: ...

    async def poll(self, max_records: int, timeout: float) -> list[Record]:
        """The next records of the group's partitions, at most ``max_records``; waits up to
        ``timeout`` seconds when there are none."""
        ...

    async def commit(self, records: Sequence[Record]) -> None:
        """Marks these records (and all before them in their partitions) as processed."""
        ...

    async def lag(self) -> dict[tuple[str, int], int]:
        """Records not yet committed, per (topic, partition)."""
        ...

    async def stop(self) -> None:
        """Leaves the group; what was not committed will be delivered again."""
        ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def ensure_topics(self, topics: Sequence[str]) -> None: ...

    async def publish(self, records: Sequence[Outgoing]) -> None:
        """Returns once the bus acknowledged every record (durably written)."""
        ...

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer: ...

    async def stop(self) -> None: ...
