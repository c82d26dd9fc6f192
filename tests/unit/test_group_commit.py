"""Group commit: concurrent rows share transactions, and each caller returns only once its
own row was written (or raises what its transaction raised)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from chainon.audit.group_commit import GroupCommit


class SlowTable:
    """A write that takes a moment, so that callers pile up behind it."""

    def __init__(self, refuse: str | None = None) -> None:
        self.transactions: list[list[str]] = []
        self.refuse = refuse
        self.started = threading.Event()
        self.release = threading.Event()

    def write(self, rows: Sequence[str]) -> None:
        self.started.set()
        self.release.wait(5)
        if self.refuse is not None and self.refuse in rows:
            raise RuntimeError(f"refused {self.refuse}")
        self.transactions.append(list(rows))

    def written(self) -> list[str]:
        return [row for rows in self.transactions for row in rows]


def _appending(group: GroupCommit[str], row: str, outcomes: dict[str, str]) -> threading.Thread:
    def run() -> None:
        try:
            group.append(row)
            outcomes[row] = "written"
        except RuntimeError as exc:
            outcomes[row] = str(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _until_pending(group: GroupCommit[str], count: int) -> None:
    deadline = time.monotonic() + 5
    while group.pending < count and time.monotonic() < deadline:
        time.sleep(0.001)
    assert group.pending == count


def test_rows_that_arrive_during_a_commit_share_the_next_one() -> None:
    table = SlowTable()
    group = GroupCommit(table.write)
    outcomes: dict[str, str] = {}
    first = _appending(group, "a", outcomes)
    assert table.started.wait(5)
    waiting = [_appending(group, row, outcomes) for row in ("b", "c", "d")]
    _until_pending(group, 3)
    assert outcomes == {}  # nobody returns before its row is written
    table.release.set()
    for thread in (first, *waiting):
        thread.join(5)
    assert table.transactions == [["a"], ["b", "c", "d"]]
    assert outcomes == dict.fromkeys("abcd", "written")


def test_every_caller_of_a_failed_transaction_gets_its_error_and_the_next_one_is_fresh() -> None:
    table = SlowTable(refuse="c")
    group = GroupCommit(table.write)
    outcomes: dict[str, str] = {}
    first = _appending(group, "a", outcomes)
    assert table.started.wait(5)
    waiting = [_appending(group, row, outcomes) for row in ("b", "c")]
    _until_pending(group, 2)
    table.release.set()
    for thread in (first, *waiting):
        thread.join(5)
    assert outcomes == {"a": "written", "b": "refused c", "c": "refused c"}
    group.append("e")
    assert table.written() == ["a", "e"]


def test_a_lone_caller_writes_its_own_row_at_once() -> None:
    table = SlowTable(refuse="x")
    table.release.set()
    group = GroupCommit(table.write)
    group.append("y")
    assert table.transactions == [["y"]]
    with pytest.raises(RuntimeError, match="refused x"):
        group.append("x")
