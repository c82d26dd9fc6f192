"""The inbound burst's wait (both embedded variants share it): stored, then relayed and
projected up to the store's head as read once the core took everything; overdue, it says
which stage and what the measured process logged."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bench.result import Missing
from bench.scenarios.inbound_burst import Progress, Reader, until_caught_up


def reading(*values: int) -> Reader:
    """A reader answering ``values`` in turn, then its last one for good."""
    answers: Iterator[int] = iter(values)
    last = values[-1]

    async def read() -> int:
        nonlocal last
        last = next(answers, last)
        return last

    return read


async def test_each_stage_waits_for_the_head_read_once_everything_was_stored() -> None:
    progress = Progress(
        lag=reading(7, 2, 0),
        head=reading(40, 99),  # read once, after the lag reached 0: 40
        relayed=reading(10, 39, 40),
        projected=reading(0, 40),
    )
    started = time.perf_counter()
    marks = await until_caught_up(progress, started, count=10)
    assert list(marks) == ["stored_seconds", "relayed_seconds", "projected_seconds"]
    stored, relayed, projected = marks.values()
    assert 0 < stored <= relayed <= projected  # two polls for stored, two more to relay
    assert relayed - stored >= 0.03


async def test_an_overdue_stage_is_named_with_the_log_of_what_was_measured() -> None:
    checks: list[str] = []
    progress = Progress(
        lag=reading(0),
        head=reading(5),
        relayed=reading(4),
        projected=reading(5),
        check=lambda: checks.append("alive"),
        tail=lambda: "relay: stuck",
    )
    long_ago = time.perf_counter() - 1000  # past the deadline (120 s + 1 s per 20 messages)
    with pytest.raises(Missing, match=r"not relayed after 121s:\nrelay: stuck"):
        await until_caught_up(progress, long_ago, count=20)
    assert checks == ["alive"]  # asked before giving up


async def test_without_a_log_the_overdue_message_is_the_stage_alone() -> None:
    progress = Progress(lag=reading(3), head=reading(0), relayed=reading(0), projected=reading(0))
    with pytest.raises(Missing, match=r"^not stored after 120s$"):
        await until_caught_up(progress, time.perf_counter() - 1000, count=0)
