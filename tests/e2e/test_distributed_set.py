"""The distributed mode on one machine, started and stopped as the README says: the
servers' make targets, and ``infra/dist.sh`` behind ``make dist-up`` / ``make dist-down``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import ROOT

DIST = ROOT / "infra" / "dist.sh"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Not under pytest's own tmp_path: as root, the servers run as another user, who must
    traverse every parent directory."""
    directory = Path(tempfile.mkdtemp(prefix="chainon-dist-"))
    directory.chmod(0o755)
    yield directory / "data"
    shutil.rmtree(directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make(target: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["make", "-s", target, f"CHAINON_DATA_DIR={data_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_postgres_up_prints_the_setting_and_a_stop_keeps_the_data(data_dir: Path) -> None:
    try:
        up = make("postgres-up", data_dir)
        assert up.stdout.startswith("CHAINON_POSTGRES_DSN=postgresql://"), up.stdout
        dsn = up.stdout.strip().removeprefix("CHAINON_POSTGRES_DSN=")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (42)")
        make("postgres-stop", data_dir)
        assert (data_dir / "postgres" / "data").is_dir()
        again = make("postgres-up", data_dir)
        assert again.stdout.strip() == up.stdout.strip()  # the same DSN: the port kept
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]
    finally:
        make("postgres-down", data_dir)
    assert not (data_dir / "postgres").exists()


def test_dist_up_starts_the_whole_set_and_dist_down_stops_it_by_pid(data_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "CHAINON_PORT": str(port), "CHAINON_PYTHON": sys.executable}

    def dist(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(DIST), command, str(data_dir)],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )

    up = dist("up")
    run = data_dir / "run"
    names = ("serve", "core", "relay", "dispatch", "webhooks")
    pids = {name: int((run / f"{name}.pid").read_text()) for name in names if up.returncode == 0}
    try:
        assert up.returncode == 0, up.stderr
        assert f"export CHAINON_PORT={port}" in up.stdout.splitlines()
        assert all(alive(pid) for pid in pids.values()), pids
        # A reply goes through the API, the core, the relay and the dispatcher.
        key = (data_dir / "demo-api-key").read_text().strip()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ) as http:
            opened = http.post(
                "/v1/sandbox/inbound",
                json={"from": "0612345678", "to": "+33939000001", "body": "Bonjour"},
            )
            assert opened.status_code == 202, opened.text
            conversation = f"/v1/conversations/{opened.json()['conversation_id']}"
            sent = http.post(f"{conversation}/messages", json={"body": "Bonjour !"})
            assert sent.status_code == 202, sent.text
            status = None
            for _ in range(300):
                status = http.get(conversation).json()["messages"][0]["status"]  # newest first
                if status == "delivered":
                    break
                time.sleep(0.1)
            assert status == "delivered"
    finally:
        down = dist("down")
    assert down.returncode == 0, down.stderr
    assert not any(alive(pid) for pid in pids.values()), pids
    assert not any((run / f"{name}.pid").exists() for name in names)
    for server in ("postgres", "kafka"):  # stopped, their data kept for the next dist-up
        assert (data_dir / server / "data").is_dir()
        pid_file = data_dir / server / "pid"
        assert not pid_file.exists() or not alive(int(pid_file.read_text()))
