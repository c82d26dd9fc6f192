"""The servers a run needs, started the way the tests start them, stopped by their own PID.

PostgreSQL comes from ``infra/postgres/pg.sh`` (as the ``postgres_dsn`` fixture starts it),
Kafka from ``devtools/kafka_broker.py`` (``infra/kafka/kafka.sh``), the SMSC simulator from
``devtools/smsc_simulator.py``. ``CHAINON_BENCH_POSTGRES_DSN`` and
``CHAINON_BENCH_KAFKA_BOOTSTRAP`` point the run at servers you already run instead (their
memory is then not reported).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from bench.registry import Service, Smsc
from devtools.kafka_broker import broker_pid, start_broker, stop_broker
from devtools.smsc_simulator import SMSC_DIR
from devtools.smsc_simulator import Smsc as Simulator

ROOT = Path(__file__).resolve().parent.parent
PG_SCRIPT = ROOT / "infra" / "postgres" / "pg.sh"
SMSC_SYSTEM_ID, SMSC_PASSWORD = "bench", "secret"


class ServiceFailed(RuntimeError):
    """A server the run needs did not start."""


class Services:
    def __init__(self, say: Callable[[str], None] = print) -> None:
        self.say = say
        self.postgres_dsn: str | None = None
        self.kafka_bootstrap: str | None = None
        self.smsc: Smsc | None = None
        self.pids: dict[str, int] = {}  # the servers whose memory is watched, by name
        self._postgres_dir: Path | None = None
        self._kafka_dir: Path | None = None
        self._simulator: Simulator | None = None

    def start(self, needs: Iterable[Service]) -> None:
        wanted = set(needs)
        if Service.POSTGRES in wanted:
            self._start_postgres()
        if Service.KAFKA in wanted:
            self._start_kafka()
        if Service.SMSC in wanted:
            self._start_smsc()

    def _start_postgres(self) -> None:
        given = os.environ.get("CHAINON_BENCH_POSTGRES_DSN")
        if given:
            self.postgres_dsn = given
            return
        self.say("starting PostgreSQL (infra/postgres/pg.sh)")
        directory = Path(tempfile.mkdtemp(prefix="chainon-bench-pg-"))
        self._postgres_dir = directory
        started = subprocess.run(
            ["bash", str(PG_SCRIPT), "start", str(directory)], capture_output=True, text=True
        )
        if started.returncode != 0:
            raise ServiceFailed(f"PostgreSQL did not start:\n{started.stderr}")
        self.postgres_dsn = started.stdout.strip().splitlines()[-1]
        pid_file = directory / "data" / "postmaster.pid"
        self.pids["postgres"] = int(pid_file.read_text().splitlines()[0])

    def _start_kafka(self) -> None:
        given = os.environ.get("CHAINON_BENCH_KAFKA_BOOTSTRAP")
        if given:
            self.kafka_bootstrap = given
            return
        self.say("starting Kafka (infra/kafka/kafka.sh)")
        self._kafka_dir = Path(tempfile.mkdtemp(prefix="chainon-bench-kafka-")) / "broker"
        try:
            self.kafka_bootstrap, self.pids["kafka"] = start_broker(self._kafka_dir)
        except RuntimeError as exc:
            raise ServiceFailed(f"Kafka did not start:\n{exc}") from exc

    def _start_smsc(self) -> None:
        if not (SMSC_DIR / "node_modules" / "smpp").is_dir():
            self.say("installing the SMSC simulator's node modules (npm ci)")
            subprocess.run(
                ["npm", "ci", "--prefix", str(SMSC_DIR), "--no-audit", "--no-fund"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        self.say("starting the SMSC simulator (devtools/smsc/smsc.js)")
        # No PDU log: one stderr line per PDU would be the simulator's own bottleneck.
        simulator = Simulator(system_id=SMSC_SYSTEM_ID, password=SMSC_PASSWORD, pdu_log=False)
        try:
            simulator.start()
        except RuntimeError as exc:
            raise ServiceFailed(str(exc)) from exc
        self._simulator = simulator
        self.smsc = Smsc("127.0.0.1", simulator.port, SMSC_SYSTEM_ID, SMSC_PASSWORD)
        self.pids["smsc"] = simulator.pid

    def reset_smsc(self) -> None:
        """Forgets the simulator's log of earlier submits (it keeps every one in memory)."""
        if self._simulator is not None:
            self._simulator.reset()

    def versions(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.postgres_dsn is not None:
            import psycopg

            with psycopg.connect(self.postgres_dsn, autocommit=True) as conn:
                for setting in ("server_version", "fsync", "synchronous_commit", "shared_buffers"):
                    row = conn.execute(f"SHOW {setting}").fetchone()
                    found[f"postgres.{setting}"] = str(row[0]) if row else "?"
        if self.kafka_bootstrap is not None:
            jars = sorted((ROOT / "infra" / "kafka" / "lib").glob("kafka_2.13-*.jar"))
            found["kafka"] = jars[-1].stem.removeprefix("kafka_2.13-") if jars else "?"
        if self.smsc is not None:
            node = shutil.which("node")
            if node:
                found["node"] = subprocess.run(
                    [node, "--version"], capture_output=True, text=True
                ).stdout.strip()
        return found

    def stop(self) -> None:
        """Stops every server this run started, each by its own PID; reports, never raises
        before trying them all."""
        failures: list[str] = []
        if self._simulator is not None:
            try:
                self._simulator.stop()
            except Exception as exc:
                failures.append(f"SMSC simulator: {exc!r}")
            self._simulator = None
        if self._kafka_dir is not None:
            try:
                stop_broker(self._kafka_dir)
            except Exception as exc:
                failures.append(f"Kafka: {exc!r}")
            if broker_pid(self._kafka_dir) is None:  # also after a start cut short
                shutil.rmtree(self._kafka_dir.parent, ignore_errors=True)
            self._kafka_dir = None
        if self._postgres_dir is not None:
            stopped = subprocess.run(
                ["bash", str(PG_SCRIPT), "stop", str(self._postgres_dir)],
                capture_output=True,
                text=True,
            )
            if stopped.returncode != 0:
                failures.append(f"PostgreSQL: {stopped.stderr.strip()}")
            self._postgres_dir = None
        self.pids.clear()
        for failure in failures:
            self.say(f"could not stop {failure}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
