"""Peak resident memory of running servers and their children, from Linux's /proc.

The kernel keeps each process's high-water mark (``VmHWM``); writing ``5`` to its
``clear_refs`` resets it, so each measurement sees its own peak even on a server that
lives through the whole run. Children (PostgreSQL's backends) come and go, so they are
sampled while the measurement runs.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from enum import Enum
from pathlib import Path
from types import FunctionType, ModuleType, TracebackType
from typing import Self

PROC = Path("/proc")


def peak_rss(pid: int) -> int | None:
    """The process's peak resident memory in bytes, or None if it is gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):
        (PROC / str(pid) / "clear_refs").write_text("5")


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` alive now."""
    parents: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class Watch:
    """Samples the peaks of ``pids`` (by name) and of their children until closed."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5, *, reset: bool = True) -> None:
        self.pids = dict(pids)
        self.interval = interval
        self.reset = reset  # False: keep the peaks the processes reached before the watch
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the sampling thread and a caller's sample()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def __enter__(self) -> Self:
        for pid in self.pids.values() if self.reset else ():
            for each in (pid, *children(pid)):
                reset_peak(each)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        if not self.pids:
            return
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Takes the peaks now (also before a watched process is stopped)."""
        with self._lock:
            for name, pid in self.pids.items():
                self._keep(name, peak_rss(pid))
                kids = [peak_rss(child) for child in children(pid)]
                self._keep(f"{name} child (largest)", max((k for k in kids if k), default=None))

    def _keep(self, name: str, value: int | None) -> None:
        if value is not None:
            self.peaks[name] = max(self.peaks.get(name, 0), value)


def deep_size(root: object) -> int:
    """The bytes an object holds: it and everything it reaches, each counted once, but
    not what every object shares (classes, modules, functions, enum members)."""
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or _shared(obj):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _shared(obj: object) -> bool:
    return obj is None or isinstance(obj, type | ModuleType | FunctionType | Enum | bool)
