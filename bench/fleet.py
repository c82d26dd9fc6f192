"""Chainon's workers as their own processes, the way the distributed mode runs them.

Each is ``python -m chainon.cli worker ROLE`` with the scenario's settings as the
``CHAINON_*`` variables ``chainon/settings.py`` reads, and its health and metrics on a port
of its own. Their peak memory is watched; each is stopped by its own PID (SIGTERM, so it
finishes its batch and leaves its group; SIGKILL if it has not exited in time), also when
the scenario fails. Should the scenario's process itself be killed first, the kernel sends
every worker SIGTERM (``PR_SET_PDEATHSIG``), so that none outlives the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from pydantic import SecretStr

from bench.memory import Watch

if TYPE_CHECKING:
    from chainon.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
STOP_SECONDS = 20.0
# Runs before the worker's own code, in its process (exec keeps the PID): asks the kernel
# for SIGTERM when the scenario's process dies, unless it already died meanwhile.
GUARD = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


class WorkerFailed(RuntimeError):
    """A worker process exited while the scenario needed it."""


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def environment(settings: Settings, **overrides: Any) -> dict[str, str]:
    """This process's environment with every setting as its ``CHAINON_*`` variable; any
    other ``CHAINON_*`` is left out, so that nothing stray overrides them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINON_")}
    values = _plain(settings.model_dump()) | _plain(overrides)
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | dict):
            text = json.dumps(value)
        else:
            text = str(value)
        env[f"CHAINON_{name.upper()}"] = text
    return env


def guarded(*arguments: str) -> list[str]:
    """The command line that runs ``python ARGUMENTS`` as a child that dies with this
    process (the kernel sends it SIGTERM); spawn it from the main thread."""
    return [sys.executable, "-c", GUARD, str(os.getpid()), *arguments]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def answers(url: str, check: Callable[[], None], deadline: float) -> bool:
    """Whether ``url`` answered 200 before ``deadline`` (monotonic); ``check`` raises if
    the process that should answer has exited."""
    import httpx

    async with httpx.AsyncClient(timeout=1) as http:
        while True:
            check()
            try:
                if (await http.get(url)).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)


class Fleet:
    """Worker processes by name (``chainon worker core 2``), with their logs and ports."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.logs: dict[str, Path] = {}
        self.exit_codes: dict[str, int] = {}
        self._watch: Watch | None = None

    async def start(self, roles: dict[str, int], timeout: float = 120.0) -> None:
        """Starts ``count`` processes of each role, e.g. ``{"core": 2, "relay": 1}``, one
        after the other: each once the one before serves its health endpoint.

        One at a time because two workers creating the store's tables at once collide in
        PostgreSQL's catalogue (eventsourcing's ``CREATE OR REPLACE FUNCTION`` fails with
        "tuple concurrently updated", which ``chainon.event_store.racing_creation`` does not
        retry). Runs on the main thread: the kernel's parent-death signal follows the
        thread that started the process."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for role, count in roles.items():
            for i in range(1, count + 1):
                name = f"chainon worker {role}" + (f" {i}" if count > 1 else "")
                self._spawn(name, role)
                await self._serving(name, time.monotonic() + timeout)
        pids = {name: p.pid for name, p in self.processes.items()}
        self._watch = Watch(pids, interval=0.25, reset=False)  # their whole lives' peaks
        self._watch.__enter__()

    def _spawn(self, name: str, role: str) -> None:
        """Starts the process (``Popen`` returns as soon as it is forked)."""
        port = free_port()
        log = self.directory / (name.replace(" ", "-") + ".log")
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(
                guarded("-m", "chainon.cli", "worker", role),
                cwd=ROOT,
                env=environment(self.settings, worker_port=port),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.ports[name], self.logs[name] = port, log

    async def _serving(self, name: str, deadline: float) -> None:
        url = f"http://127.0.0.1:{self.ports[name]}/healthz"
        if not await answers(url, self.check, deadline):
            raise WorkerFailed(f"{name} did not serve its health endpoint in time")

    def named(self, role: str) -> list[str]:
        return [n for n in self.processes if n.split()[2] == role]

    def check(self) -> None:
        """Raises if any worker has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise WorkerFailed(
                    f"{name} exited with code {process.returncode}:\n{self.tail(name)}"
                )

    def tail(self, name: str, lines: int = 30) -> str:
        try:
            text = self.logs[name].read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def rss(self) -> dict[str, int]:
        """Each worker's peak resident memory so far, in bytes."""
        return dict(self._watch.peaks) if self._watch is not None else {}

    def stop(self) -> None:
        """SIGTERM to each worker still running, by its PID; SIGKILL to any that has not
        exited after ``STOP_SECONDS``. Never raises before trying them all."""
        if self._watch is not None:
            self._watch.sample()  # the last peaks, while the processes are still there
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self.exit_codes[name] = process.returncode
        if self._watch is not None:
            self._watch.__exit__(None, None, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
