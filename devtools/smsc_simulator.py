"""Start, steer and stop the SMSC simulator of ``devtools/smsc/smsc.js`` (SMPP 3.4, node-smpp).

One ``Smsc`` is one ``node devtools/smsc/smsc.js`` process: an SMPP server on
``127.0.0.1:<port>`` and a JSON control API on ``control_url``. Its stdout and stderr
(one line per PDU) go to ``smsc.stdout`` / ``smsc.log`` in the directory given to
``start``, so a failing test can point at them. ``devtools/smsc/node_modules`` must be
installed first (``npm ci --prefix devtools/smsc --no-audit --no-fund``; ``make test`` does it).

    with Smsc(system_id="chainon", password="secret", directory=tmp_path) as smsc:
        smsc.configure(receipt_delay_ms=0, throttle={"tps": 20})
        ...  # bind Chainon's SMPP adapter to 127.0.0.1:smsc.port
        smsc.mo(source="+33612345678", destination="+33939000001", text="Bonjour")
        submits = smsc.wait_for_log(lambda log: len(submits_of(log)) >= 1)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

SMSC_DIR = Path(__file__).resolve().parent / "smsc"
SMSC_SCRIPT = SMSC_DIR / "smsc.js"

LogEntry = dict[str, Any]


def submits_of(log: list[LogEntry]) -> list[LogEntry]:
    """The ``submit_sm`` entries of a ``log()``."""
    return [entry for entry in log if entry.get("pdu") == "submit_sm"]


def delivers_of(log: list[LogEntry], kind: str | None = None) -> list[LogEntry]:
    """The ``deliver_sm`` entries of a ``log()``; ``kind`` ``"receipt"`` or ``"mo"`` narrows."""
    return [
        entry
        for entry in log
        if entry.get("pdu") == "deliver_sm" and (kind is None or entry.get("kind") == kind)
    ]


class Smsc:
    """The simulator process and a client of its control API."""

    def __init__(
        self,
        *,
        system_id: str = "chainon",
        password: str = "secret",
        port: int = 0,
        control_port: int = 0,
        directory: Path | None = None,
        pdu_log: bool = True,
        startup_timeout: float = 15.0,
    ) -> None:
        self.system_id = system_id
        self.password = password
        self._wanted_port = port
        self._wanted_control_port = control_port
        self._directory = directory
        self._own_directory = False
        self._pdu_log = pdu_log
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._control_port: int | None = None
        self._http: httpx.Client | None = None

    # -- process ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the SMSC simulator is not started")
        return self._process.pid

    @property
    def port(self) -> int:
        """The SMPP port on 127.0.0.1."""
        if self._port is None:
            raise RuntimeError("the SMSC simulator is not started")
        return self._port

    @property
    def control_url(self) -> str:
        if self._control_port is None:
            raise RuntimeError("the SMSC simulator is not started")
        return f"http://127.0.0.1:{self._control_port}"

    @property
    def directory(self) -> Path:
        if self._directory is None:
            raise RuntimeError("the SMSC simulator is not started")
        return self._directory

    @property
    def log_path(self) -> Path:
        """The simulator's stderr: one line per PDU and every event."""
        return self.directory / "smsc.log"

    def start(self, directory: Path | None = None) -> Self:
        """Spawns the simulator (its files in ``directory``, created if needed) and waits for
        its ``LISTENING <port> CONTROL <port>`` line.

        Raises RuntimeError with the simulator's stderr if it exits or does not answer in
        ``startup_timeout`` seconds.
        """
        if self._process is not None:
            raise RuntimeError("the SMSC simulator is already started")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node (Node.js) is not on PATH: the SMSC simulator needs it")
        if not (SMSC_DIR / "node_modules" / "smpp").is_dir():
            raise RuntimeError(
                "devtools/smsc/node_modules is missing: run "
                "`npm ci --prefix devtools/smsc --no-audit --no-fund` (make test does)"
            )
        if directory is not None:
            self._directory = directory
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="chainon-smsc-"))
            self._own_directory = True
        self._directory.mkdir(parents=True, exist_ok=True)
        stdout_path = self._directory / "smsc.stdout"
        env = {
            **os.environ,
            "SMSC_SYSTEM_ID": self.system_id,
            "SMSC_PASSWORD": self.password,
            "SMSC_PORT": str(self._wanted_port),
            "SMSC_CONTROL_PORT": str(self._wanted_control_port),
            "SMSC_PDU_LOG": "1" if self._pdu_log else "0",
        }
        with stdout_path.open("wb") as stdout, self.log_path.open("ab") as stderr:
            self._process = subprocess.Popen(
                [node, str(SMSC_SCRIPT)],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=SMSC_DIR,
            )
        deadline = time.monotonic() + self._startup_timeout
        while True:
            line = stdout_path.read_text(errors="replace").split("\n", 1)
            if len(line) == 2:  # the first line is complete
                words = line[0].split()
                if len(words) == 4 and words[0] == "LISTENING" and words[2] == "CONTROL":
                    self._port, self._control_port = int(words[1]), int(words[3])
                    break
                self._fail(f"unexpected first line {line[0]!r}")
            if self._process.poll() is not None:
                self._fail(f"exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                self._fail(f"printed no LISTENING line in {self._startup_timeout}s")
            time.sleep(0.02)
        self._http = httpx.Client(base_url=self.control_url, timeout=10.0)
        return self

    def _fail(self, why: str) -> None:
        self._kill()
        stderr = self.log_path.read_text(errors="replace") if self._directory else ""
        raise RuntimeError(f"the SMSC simulator did not start: {why}\n{stderr}")

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # its own PID only
            try:
                process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5.0)

    def stop(self) -> None:
        """SIGTERM (the simulator closes its sockets), SIGKILL after 5 s. Idempotent.
        A directory the simulator created itself is deleted."""
        if self._http is not None:
            self._http.close()
            self._http = None
        self._kill()
        self._port = self._control_port = None
        if self._own_directory and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
            self._own_directory = False

    def __enter__(self) -> Self:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- control API -----------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._http is None:
            raise RuntimeError("the SMSC simulator is not started")
        response = self._http.request(method, path, json=body)
        if response.status_code != 200:
            raise RuntimeError(
                f"SMSC simulator {method} {path} -> {response.status_code}: {response.text}"
            )
        return response.json()

    def state(self) -> dict[str, Any]:
        """``GET /state``: config, one-shot plans, counters, bound sessions."""
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def configure(self, **fields: Any) -> dict[str, Any]:
        """``POST /config``: merges the fields given (unknown ones are refused); returns the
        state. E.g. ``configure(receipt_order="reverse", throttle={"tps": 5},
        reject_next={"count": 3, "status": "ESME_RMSGQFUL"})``."""
        result: dict[str, Any] = self._call("POST", "/config", fields)
        return result

    def drop(self, **fields: Any) -> dict[str, Any]:
        """``POST /drop``: closes every client socket now (no unbind), or with
        ``after_submits=N`` (``before_resp=True``) after the N-th next submit_sm;
        ``refuse_ms=N`` closes new connections at once for N ms; ``reset=True`` sends RST."""
        result: dict[str, Any] = self._call("POST", "/drop", fields)
        return result

    def mo(self, **fields: Any) -> dict[str, Any]:
        """``POST /mo``: sends a mobile-originated deliver_sm (segmented if asked)."""
        result: dict[str, Any] = self._call("POST", "/mo", fields)
        return result

    def raw(self, data: bytes, **fields: Any) -> dict[str, Any]:
        """``POST /raw``: writes ``data`` as it is to every bound session (of ``system_id``
        if given), for PDUs node-smpp would never build. The simulator numbers its own PDUs
        from 1: give a raw one a sequence_number far from there."""
        result: dict[str, Any] = self._call("POST", "/raw", {"hex": data.hex(), **fields})
        return result

    def log(self, pdu: str | None = None) -> list[LogEntry]:
        """``GET /log``: every submit_sm received and deliver_sm sent, oldest first."""
        result: list[LogEntry] = self._call("GET", "/log" + (f"?pdu={pdu}" if pdu else ""))
        return result

    def reset(self, *, config: bool = False) -> dict[str, Any]:
        """``POST /reset``: clears the log, counters, pending plans and undelivered
        receipts; with ``config=True`` the configuration goes back to its defaults too."""
        result: dict[str, Any] = self._call("POST", "/reset", {"config": config})
        return result

    def wait_for_log(
        self,
        predicate: Callable[[list[LogEntry]], bool],
        timeout: float = 5.0,
        interval: float = 0.02,
    ) -> list[LogEntry]:
        """Polls ``log()`` until ``predicate(log)`` holds; returns that log.
        Raises TimeoutError with the last log otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.log()
            if predicate(entries):
                return entries
            if time.monotonic() > deadline:
                raise TimeoutError(f"SMSC log condition not met in {timeout}s: {entries!r}")
            time.sleep(interval)
