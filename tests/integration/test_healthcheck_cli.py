"""``chainon healthcheck``, the container's HEALTHCHECK: the API's port, or a worker's when
CHAINON_WORKER_PORT is set (one image serves every role)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.test_shutdown import free_port


class Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def listening() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def healthcheck(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chainon.cli", "healthcheck", "--timeout", "2"],
        env={**os.environ, "CHAINON_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_api_port_answering_is_healthy(tmp_path: Path, listening: int) -> None:
    done = healthcheck(tmp_path, CHAINON_PORT=str(listening))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"healthy: http://127.0.0.1:{listening}/healthz"


def test_a_worker_is_asked_on_its_own_port(tmp_path: Path, listening: int) -> None:
    silent = free_port()
    done = healthcheck(tmp_path, CHAINON_PORT=str(listening), CHAINON_WORKER_PORT=str(silent))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: no answer from http://127.0.0.1:{silent}/healthz")
    found = healthcheck(tmp_path, CHAINON_PORT=str(silent), CHAINON_WORKER_PORT=str(listening))
    assert found.returncode == 0, found.stderr
