"""What a newcomer reads when ``chainon`` cannot start as configured, the demo key that
``serve`` keeps, and the commands that refuse a store that is not there."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Run, api_key, refused

# Loading any of these is what made `chainon version` take seconds.
HEAVY = ("chainon.runtime", "chainon.core", "eventsourcing", "fastapi", "uvicorn", "aiokafka")


def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago, and nothing here binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_an_unreachable_postgresql_is_one_line_naming_its_address(chainon: Run) -> None:
    port = closed_port()
    env = {
        "CHAINON_STORE": "postgres",
        "CHAINON_POSTGRES_DSN": f"postgresql://chainon:secret@127.0.0.1:{port}/chainon",
    }
    for command in (["brands", "list"], ["serve", "--port", str(closed_port())]):
        line = refused(chainon(*command, env=env))
        assert line.startswith("error: CHAINON_POSTGRES_DSN: PostgreSQL at "), line
        assert f"127.0.0.1:{port}" in line
        assert "Connection refused" in line
        assert "secret" not in line  # the password stays out of the message


def test_an_unknown_log_level_is_one_line_naming_the_setting(chainon: Run) -> None:
    line = refused(
        chainon("serve", "--port", str(closed_port()), env={"CHAINON_LOG_LEVEL": "LOUD"})
    )
    assert line == "error: CHAINON_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"


def test_an_unreadable_setting_is_one_line_naming_the_variable(chainon: Run) -> None:
    line = refused(chainon("brands", "list", env={"CHAINON_SMPP_LINKS": '[{"name": '}))
    assert line.startswith("error: CHAINON_SMPP_LINKS: cannot be read: "), line


def test_an_unreachable_broker_is_one_line_naming_its_address(tmp_path: Path) -> None:
    port = closed_port()
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(tmp_path),
        "CHAINON_BUS": "kafka",
        "CHAINON_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
    }
    worker = subprocess.run(
        [sys.executable, "-m", "chainon.cli", "worker", "core"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 1, worker.stderr
    lines = worker.stderr.strip().splitlines()
    assert len(lines) == 1, worker.stderr  # the Kafka client's own lines held back too
    assert lines[0].startswith("error: CHAINON_KAFKA_BOOTSTRAP: "), lines[0]
    assert f"127.0.0.1:{port}" in lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["brands", "list"],
        ["brands", "keys", "acme"],
        ["send", "--brand", "acme", "--to", "+33612345678", "--body", "Bonjour"],
        ["conversations", "list", "--brand", "acme"],
        ["projections", "status"],
    ],
)
def test_a_mistyped_data_directory_is_refused_naming_the_path(
    chainon: Run, tmp_path: Path, command: list[str]
) -> None:
    mistyped = tmp_path / "vra"
    line = refused(chainon("--data-dir", str(mistyped), *command))
    assert line.startswith(f"error: CHAINON_DATA_DIR: no Chainon store at {mistyped}/"), line
    assert not mistyped.exists()  # nothing was created there


@pytest.mark.postgres
def test_a_postgresql_schema_without_a_store_is_refused_naming_it(
    chainon: Run, postgres_dsn: str
) -> None:
    env = {"CHAINON_STORE": "postgres", "CHAINON_POSTGRES_DSN": postgres_dsn}
    mistyped = {**env, "CHAINON_POSTGRES_SCHEMA": "chainno"}
    line = refused(chainon("brands", "list", env=mistyped))
    assert line.startswith("error: CHAINON_POSTGRES_SCHEMA: no Chainon store in PostgreSQL at "), (
        line
    )
    assert "chainno.chainon_events" in line


def test_brands_create_makes_the_store_the_others_then_find(chainon: Run, data_dir: Path) -> None:
    assert not data_dir.exists()
    created = chainon("brands", "create", "acme", "--name", "Acme")
    assert created.exit_code == 0, created.output
    listed = chainon("brands", "list")
    assert listed.exit_code == 0, listed.output
    assert "1 brand(s)" in listed.stdout


def test_version_loads_neither_the_runtime_nor_the_web_framework() -> None:
    shown = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chainon.cli", "version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip()
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in shown.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "chainon.cli" in imported  # the measure works
    loaded = sorted(m for m in imported if any(m == h or m.startswith(f"{h}.") for h in HEAVY))
    assert loaded == []


class Server:
    """``chainon serve`` in its own process, stopped by its PID."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.port = port
        self.env = {
            **os.environ,
            "CHAINON_DATA_DIR": str(data_dir),
            "CHAINON_PORT": str(port),
            "CHAINON_LOG_JSON": "true",
            "COLUMNS": "200",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chainon.cli", "serve"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> str:
        """Waits for /readyz; returns what the command printed before serving."""
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                out, err = self.process.communicate(timeout=10)
                pytest.fail(f"chainon serve did not start:\n{out}\n{err}")
            time.sleep(0.2)
        assert self.process.stdout is not None
        printed = []
        while not (line := self.process.stdout.readline()).startswith("API docs:"):
            printed.append(line)
        return "".join(printed)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.communicate()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def test_serve_issues_the_demo_key_once_and_keeps_it_readable_by_its_owner_only(
    chainon: Run, data_dir: Path, servers: list[Server]
) -> None:
    port = closed_port()
    first = Server(data_dir, port)
    servers.append(first)
    printed = first.ready()
    key = api_key(printed)
    kept = data_dir / "demo-api-key"
    assert f"Kept in {kept}" in printed
    assert kept.read_text().strip() == key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    answered = httpx.get(
        f"http://127.0.0.1:{port}/v1/conversations", headers={"Authorization": f"Bearer {key}"}
    )
    assert answered.status_code == 200, answered.text
    assert f"Agent console: http://127.0.0.1:{port}/console" in printed
    sign_in = httpx.get(f"http://127.0.0.1:{port}/console/sign-in")
    assert sign_in.status_code == 200
    assert "Brand API key" in sign_in.text

    # A second server on the busy port: one line naming the address, and no key issued.
    busy = subprocess.run(
        [sys.executable, "-m", "chainon.cli", "serve"],
        env=first.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert busy.returncode == 1, busy.stdout + busy.stderr
    assert busy.stderr.strip().splitlines() == [
        f"error: CHAINON_PORT: 127.0.0.1:{port} is in use (Address already in use; another "
        "`chainon serve`?); --port chooses another"
    ]
    assert "chn_" not in busy.stdout

    first.stop()
    again = Server(data_dir, port)
    servers.append(again)
    printed = again.ready()
    assert "chn_" not in printed  # the key is not issued again, nor printed again
    assert f"Its API key is in {kept}." in printed
    assert "`chainon brands keys demo --issue LABEL` issues another" in printed
    assert kept.read_text().strip() == key
    again.stop()

    keys = chainon("brands", "keys", "demo")
    assert keys.exit_code == 0, keys.output
    assert keys.stdout.count("│ demo") == 1  # one key, however often it started
