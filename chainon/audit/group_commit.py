"""Group commit: rows appended by many threads at once go into one transaction.

Every caller still returns only once its own row is committed (or raises the error that
the transaction it was in raised): an audit entry is written before the answer leaves.
The first caller to find the writer free writes every row waiting at that moment, its own
and the ones that arrived while the previous transaction was committing; those callers
find their row done when the writer is theirs. Under 32 concurrent sends that is one
commit (one fsync) for many entries instead of one each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Row = TypeVar("Row")


class _Waiting(Generic[Row]):
    __slots__ = ("done", "error", "row")

    def __init__(self, row: Row) -> None:
        self.row = row
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[Row]):
    def __init__(self, write: Callable[[Sequence[Row]], None]) -> None:
        self._write = write  # one transaction: all the rows, or none of them
        self._queue: list[_Waiting[Row]] = []
        self._queued = threading.Lock()
        self._writer = threading.Lock()

    @property
    def pending(self) -> int:
        """Rows waiting for the writer (not yet in a transaction)."""
        return len(self._queue)

    def append(self, row: Row) -> None:
        waiting = _Waiting(row)
        with self._queued:
            self._queue.append(waiting)
        with self._writer:
            if not waiting.done:
                with self._queued:
                    group, self._queue = self._queue, []
                error: BaseException | None = None
                try:
                    self._write([w.row for w in group])
                except BaseException as exc:  # every caller of the group learns it
                    error = exc
                for member in group:
                    member.error, member.done = error, True
        if waiting.error is not None:
            raise waiting.error
