"""Start, stop and break the throw-away Kafka broker of ``infra/kafka/kafka.sh``.

Plain functions, no fixtures: a session fixture calls ``start_broker`` once and
``stop_broker`` at the end; fault tests use the others. A broker lives in one
directory (``server.properties`` with its two ports, ``data/``, ``pid``, ``port``,
``env``, ``broker.log``). ``restart_broker`` starts that same directory again: same
ports, same data, so clients holding the old bootstrap address reconnect and see
the records written before the fault.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "infra" / "kafka" / "kafka.sh"


def _run(command: str, directory: Path) -> str:
    """Runs ``kafka.sh COMMAND DIRECTORY``; returns its last stdout line."""
    done = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), command, str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"kafka.sh {command} {directory} failed (exit {done.returncode}):\n{done.stderr}"
        )
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def _alive(pid: int) -> bool:
    """True unless the process is gone or a zombie (dead, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def broker_pid(directory: Path) -> int | None:
    """The PID of the broker JVM serving ``directory``, or None if none runs (a paused
    broker counts as running)."""
    try:
        pid = int((directory / "pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    config = str((directory / "server.properties").resolve()).encode()
    if b"kafka.Kafka" not in cmdline or config not in cmdline or not _alive(pid):
        return None  # a recycled PID, or a zombie
    return pid


def _running_pid(directory: Path) -> int:
    pid = broker_pid(directory)
    if pid is None:
        raise RuntimeError(f"no Kafka broker is running in {directory}")
    return pid


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kafka broker pid {pid} still alive after {timeout}s")
        time.sleep(0.05)


def start_broker(directory: Path) -> tuple[str, int]:
    """Starts a broker in ``directory`` (created if needed); returns its bootstrap address
    (``127.0.0.1:PORT``) and the JVM's PID once the admin API answers.

    Raises RuntimeError with ``kafka.sh``'s stderr (and the broker log) if it fails.
    """
    bootstrap = _run("start", directory)
    return bootstrap, _running_pid(directory)


def stop_broker(directory: Path) -> None:
    """Stops the broker (SIGTERM, SIGKILL after 30 s) and deletes ``directory``.
    Nothing to do if it is already gone."""
    _run("stop", directory)


def pause_broker(directory: Path) -> None:
    """SIGSTOP: the broker hangs (connections stay open, nothing answers)."""
    os.kill(_running_pid(directory), signal.SIGSTOP)


def resume_broker(directory: Path) -> None:
    """SIGCONT: a paused broker carries on where it stopped."""
    os.kill(_running_pid(directory), signal.SIGCONT)


def kill_broker(directory: Path) -> None:
    """SIGKILL: the broker crashes (no controlled shutdown); returns once it is dead."""
    pid = _running_pid(directory)
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)


def restart_broker(directory: Path) -> str:
    """Starts the broker of ``directory`` again on the same ports and data; returns the
    bootstrap address (unchanged). A broker still there (e.g. paused) is SIGKILLed
    first, so this is always a crash-restart."""
    pid = broker_pid(directory)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
    return _run("start", directory)
