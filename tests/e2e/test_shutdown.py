"""``chainon serve`` stops on SIGTERM or SIGINT while a provider keeps failing.

Field trial: an email send kept failing (the relay down) and the process ignored SIGTERM
twice and SIGINT; only SIGKILL stopped it, because the dispatch retried in place and the
shutdown waited for it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
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


def retries_logged(log: Path) -> int:
    count = 0
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "relay unreachable" in str(entry.get("error", "")):
            count += 1
    return count


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_serve_stops_within_seconds_while_an_email_keeps_failing(
    tmp_path: Path, stop_with: signal.Signals
) -> None:
    core = Core(store_env(Settings(data_dir=tmp_path)))
    brand = core.register_brand(
        slug="maison",
        name="Maison",
        senders=[(Channel.SMS, BRAND_SMS), (Channel.EMAIL, "bonjour@maison.example")],
    )
    key = core.api_keys.issue(brand.id)
    core.close()
    port = free_port()
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(tmp_path),
        "CHAINON_DEMO_BRAND": "false",
        "CHAINON_LOG_JSON": "true",
        "CHAINON_EMAIL_REPLY_DOMAIN": "reply.maison.example",
        "CHAINON_EMAIL_REPLY_SECRET": "a-secret-long-enough-to-sign",
        "CHAINON_EMAIL_RELAY_PORT": str(free_port()),  # nobody listens: the relay is down
        "CHAINON_EMAIL_INBOUND_PORT": str(free_port()),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chainon.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            sent = httpx.post(
                f"{base}/v1/messages",
                json={"to": "camille@example.fr", "body": "Votre facture", "channel": "email"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
            assert sent.status_code == 202, sent.text
            deadline = time.monotonic() + 10
            while retries_logged(log_path) < 2:  # failing, and being tried again
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.1)

            stopping = time.monotonic()
            process.send_signal(stop_with)
            code = process.wait(timeout=8)
            assert time.monotonic() - stopping < 6.0
            assert code is not None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
