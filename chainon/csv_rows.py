"""Uploaded CSV files read a row at a time: a campaign's audience, a consent import.

Both report a bad row by its line in the file (the header being line 1) and keep the good
ones, and neither holds a file in memory; the checks every row gets, whatever it holds,
are here once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

MAX_ROW = 4096  # characters: a row longer than this is nobody's


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


class Reader(Protocol):
    """``csv.reader``: its rows, and how many lines of the file it has read."""

    line_num: int

    def __next__(self) -> list[str]: ...


def rows(reader: Reader, header: list[str]) -> Iterator[Rejected | tuple[int, list[str]]]:
    """Each row after the header that has the header's columns and a sane length, with its
    line, or why it was left out; blank lines are skipped."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Rejected(line, f"not CSV: {exc}")
            continue
        if not row or all(not cell.strip() for cell in row):
            continue  # a blank line says nothing
        if len(row) != len(header):
            yield Rejected(line, f"{len(row)} columns where the header has {len(header)}")
            continue
        if sum(len(cell) for cell in row) > MAX_ROW:
            yield Rejected(line, f"longer than {MAX_ROW} characters")
            continue
        yield line, row
