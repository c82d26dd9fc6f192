"""``chainon worker webhooks`` SIGKILLed in the middle of a delivery loses nothing: started
again, it delivers every event, the interrupted one again under the same webhook id."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chainon.api.app import create_app
from chainon.roles import Role
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, register
from tests.e2e.test_webhooks_api import hook_settings
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.asyncio


def start_worker(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(data_dir),
        "CHAINON_STORE": "sqlite",
        "CHAINON_BUS": "embedded",
        "CHAINON_WEBHOOKS_ALLOW_PRIVATE": "true",
        "CHAINON_WEBHOOKS_RETRY_SCALE": "0.05",
        "CHAINON_WEBHOOKS_POLL_INTERVAL": "0.05",
        "CHAINON_LOG_JSON": "true",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "chainon.cli", "worker", "webhooks"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_a_webhook_worker_killed_mid_delivery_loses_nothing(tmp_path: Path) -> None:
    # Every role but the webhooks one in this process: only the worker delivers.
    roles = {Role.CORE, Role.RELAY, Role.DISPATCH, Role.VIEWS}
    runtime = Runtime(hook_settings(tmp_path), roles=roles)
    await runtime.start()
    brand = register(runtime)
    log = tmp_path / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    try:
        with receiver() as hook:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
                base_url="http://chainon.test",
                headers={"Authorization": f"Bearer {brand.key}"},
            ) as api:
                made = await api.post(
                    "/v1/webhooks/endpoints",
                    json={"url": hook.url, "events": ["message.received"]},
                )
                hook.secrets = [made.json()["secret"]]
                for text in ("un", "deux", "trois"):
                    answer = await api.post(
                        "/v1/sandbox/inbound",
                        json={"from": "+33612345678", "to": BRAND_SMS, "body": text},
                    )
                    assert answer.status_code == 202
            hook.mode = "hold"
            worker = start_worker(tmp_path, log)
            deadline = time.monotonic() + 30
            while not hook.held:
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.05)
            interrupted = hook.held[0]
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            hook.mode = "ok"
            hook.gate.set()  # its answer goes to a dead socket: Chainon never saw it

            worker = start_worker(tmp_path, log)
            deadline = time.monotonic() + 30
            while len({e["data"]["body"] for e in hook.events()}) < 3:
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.05)
        assert sorted({e["data"]["body"] for e in hook.events()}) == ["deux", "trois", "un"]
        assert all(d.payload is not None for d in hook.received)  # each verified
        again = [d for d in hook.received if d.webhook_id == interrupted]
        assert len(again) >= 2  # at least once: the interrupted one was sent again, same id
        assert len({d.webhook_id for d in hook.received}) == 3
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(15)
        await runtime.stop()
        runtime.close()
