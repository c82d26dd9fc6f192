"""One flow through a real uvicorn server in its own process, over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chainon.core import Core
from chainon.domain.channels import Channel
from chainon.event_store import store_env
from chainon.settings import Settings
from tests.conftest import BRAND_SMS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Registers a brand in the store, then serves that store with uvicorn; stops it by PID."""
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(tmp_path),
        "CHAINON_SANDBOX_RECEIPT_DELAY": "0.1",
        "CHAINON_LOG_JSON": "true",
        "CHAINON_EMAIL_STARTTLS": "false",  # the name earlier versions read: warned about
    }
    core = Core(store_env(Settings(data_dir=tmp_path)))
    brand = core.register_brand(slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)])
    key = core.api_keys.issue(brand.id)
    core.close()
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "chainon.api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start:\n{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.1)
        yield base, key
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_a_reply_is_delivered_through_a_real_server(
    server: tuple[str, str], tmp_path: Path
) -> None:
    base, key = server
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10
    ) as http:
        assert http.get("/docs").status_code == 200
        assert "/v1/messages" in http.get("/openapi.json").json()["paths"]
        opened = http.post(
            "/v1/sandbox/inbound", json={"from": "0612345678", "to": BRAND_SMS, "body": "Allô ?"}
        )
        assert opened.status_code == 202, opened.text
        cid = opened.json()["conversation_id"]
        reply = http.post(
            f"/v1/conversations/{cid}/messages",
            json={"body": "Oui, bonjour !"},
            headers={"X-Request-Id": "req-e2e-1"},
        )
        assert reply.status_code == 202
        assert reply.headers["x-request-id"] == "req-e2e-1"
        status = None
        for _ in range(100):
            conversation = http.get(f"/v1/conversations/{cid}").json()
            status = conversation["messages"][0]["status"]  # newest first
            if status == "delivered":
                break
            time.sleep(0.05)
        assert status == "delivered"
    # The request id follows the message from the API into the dispatcher's log line.
    lines = (tmp_path / "server.log").read_text().splitlines()
    assert any('"message.dispatched"' in line and '"req-e2e-1"' in line for line in lines), lines[
        -20:
    ]


def test_serve_names_at_start_a_variable_no_setting_reads(
    server: tuple[str, str], tmp_path: Path
) -> None:
    lines = (tmp_path / "server.log").read_text().splitlines()
    warned = [line for line in lines if '"settings.unknown_variable"' in line]
    assert len(warned) == 1, lines
    assert (
        "CHAINON_EMAIL_STARTTLS is ignored: it was renamed CHAINON_EMAIL_RELAY_STARTTLS"
        in warned[0]
    )
