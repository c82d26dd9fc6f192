"""CPU time per stage over a scenario's timed window, from Linux's /proc.

A stage is a process, or a group of threads of this process: the servers (PostgreSQL
with its backends, Kafka, the SMSC simulator), each Chainon worker process started by
this one (named from its command line: ``chainon worker core``; ``chainon serve`` apart
from the child it supervises, ``chainon serve's child (dispatch+relay+views+webhooks)``), and this
process's own threads by their Python names. The one-process embedded mode runs the API,
the core, the relay, the views and dispatch in one process: its event loop thread (the
API, the relay's and the views' orchestration, dispatch) and its store threads
(``chainon-store``: the core's decisions and every store call, views' included) are the
split /proc can give; the stages themselves share both, so the process is also reported
whole.

A process's figure includes its children that ended (``cutime``), so PostgreSQL's
backends that come and go are counted. Divided by the messages of the scenario, it is the
CPU-ms a message costs each stage: what N cores would do follows from it.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path
from types import TracebackType
from typing import Self

from bench.memory import children

PROC = Path("/proc")
TICK = 1 / os.sysconf("SC_CLK_TCK")
SELF = "this process"


def _fields(path: Path) -> list[str] | None:
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def own_seconds(pid: int, task: int | None = None) -> float | None:
    """User + system CPU of a process (or one of its threads), its ended children apart."""
    path = PROC / str(pid) / ("stat" if task is None else f"task/{task}/stat")
    fields = _fields(path)
    return None if fields is None else (int(fields[11]) + int(fields[12])) * TICK


def tree_seconds(pid: int) -> float:
    """A process, its live descendants, and every child any of them has reaped."""
    total = 0.0
    for each in (pid, *children(pid)):
        fields = _fields(PROC / str(each) / "stat")
        if fields is not None:
            total += sum(int(f) for f in fields[11:15]) * TICK
    return total


def _name(pid: int) -> str:
    try:
        words = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    text = [w.decode(errors="replace") for w in words if w]
    if "worker" in text:  # python -c GUARD … -m chainon.cli worker ROLE
        return f"chainon worker {text[text.index('worker') + 1]}"
    if "embedded-child" in text:  # … embedded-child --parent PID ROLE… FD FD
        roles = [w for w in text[text.index("embedded-child") + 3 :] if w.isalpha()]
        return f"chainon serve's child ({'+'.join(roles)})"
    if "serve" in text:
        return "chainon serve"
    for module in ("bench.http_load", "bench.queue_watch"):
        if module in text:
            return module
    return Path(text[0]).name if text else f"pid {pid}"


def _threads() -> dict[str, float]:
    """This process's threads' CPU by Python name (numbered pool threads grouped)."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    main = threading.main_thread().native_id
    found: dict[str, float] = defaultdict(float)
    for task in (PROC / "self" / "task").iterdir():
        tid = int(task.name)
        seconds = own_seconds(os.getpid(), tid) or 0.0
        if tid == main:
            name = "main thread (event loop)"
        else:
            name = names.get(tid, "other threads").rsplit("_", 1)[0]
        found[f"{SELF}: {name}"] += seconds
    return found


class Stages:
    """``with Stages(servers) as cpu:`` around a timed window; ``cpu.seconds`` after it.

    ``servers`` are PIDs by name (their whole trees are counted); the workers this
    process starts are found as its children, also those started inside the window.
    """

    def __init__(self, servers: dict[str, int], *, threads: bool = True) -> None:
        self.servers = dict(servers)
        self.threads = threads
        self.seconds: dict[str, float] = {}
        self._before: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        me = os.getpid()
        found: dict[str, float] = defaultdict(float)
        found[SELF] = own_seconds(me) or 0.0
        mine = _fields(PROC / str(me) / "stat")
        if mine is not None:  # children of this process that ended (a load generator)
            found["ended children of this process"] = (int(mine[13]) + int(mine[14])) * TICK
        for child in children(me):
            fields = _fields(PROC / str(child) / "stat")
            if fields is not None and int(fields[1]) == me:  # a worker, and its own children
                whole = tree_seconds(child)
                for inner in children(child):  # chainon serve's children are stages of their own
                    name = _name(inner)
                    if name.startswith("chainon "):
                        own = tree_seconds(inner)
                        found[name] += own
                        whole -= own
                found[_name(child)] += whole
        for name, pid in self.servers.items():
            found[name] += tree_seconds(pid)
        if self.threads:
            found.update(_threads())
        return found

    def start(self) -> Self:
        self._before = self._sample()
        return self

    def stop(self) -> None:
        after = self._sample()
        self.seconds = {
            name: round(value - self._before.get(name, 0.0), 3) for name, value in after.items()
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
