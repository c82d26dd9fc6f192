"""Exactly once per recipient: a 1,000-recipient campaign whose process is SIGKILLed
halfway and started again reaches each eligible recipient once, counted in the store;
then every read model, rebuilt from the events, is what the live one holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.conversation import Conversation
from chainon.event_store import store_env
from chainon.settings import Settings
from tests.conftest import BRAND_SMS
from tests.e2e.test_shutdown import free_port

RECIPIENTS = 1000
ELIGIBLE = 900  # opted in; the others are blocked, once each, with their reason


def address(i: int) -> str:
    return f"client{i:04d}@example.org"


def prepare(data_dir: Path) -> str:
    """A brand, its contacts, and the opt-ins of the first ``ELIGIBLE`` of them."""
    core = Core(store_env(Settings(data_dir=data_dir)))
    brand = core.register_brand(
        slug="maison",
        name="Maison",
        senders=[(Channel.SMS, BRAND_SMS), (Channel.EMAIL, "bonjour@maison.example")],
    )
    key = core.api_keys.issue(brand.id)
    sends = [
        (cmd.SendMessage(brand_id=brand.id, to=address(i), body="Bienvenue"), None)
        for i in range(RECIPIENTS)
    ]
    outcomes = core.handle_many(sends)
    grants = [
        (
            cmd.GrantConsent(brand_id=brand.id, contact_id=o.contact_id, purpose=Purpose.MARKETING),
            None,
        )
        for o in outcomes[:ELIGIBLE]
        if isinstance(o, cmd.Outcome) and o.contact_id is not None
    ]
    assert len(grants) == ELIGIBLE
    assert all(isinstance(o, cmd.Outcome) for o in core.handle_many(grants))
    core.close()
    return key


def serve(data_dir: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(data_dir),
        "CHAINON_DEMO_BRAND": "false",
        "CHAINON_LOG_JSON": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "chainon.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90  # under load, the import alone once took 35 s
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the server stopped"
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)


def campaign_messages(data_dir: Path, campaign: UUID) -> dict[str, list[tuple[str, UUID]]]:
    """Per recipient, every hold or queueing of a campaign message, from the store."""
    core = Core(store_env(Settings(data_dir=data_dir)))
    topics = [
        Conversation.MessageQueued.TOPIC,
        Conversation.MessageDeferred.TOPIC,
        Conversation.MessageBlocked.TOPIC,
    ]
    found: dict[str, list[tuple[str, UUID]]] = {}
    try:
        for notification in core.recorder.select_notifications(
            start=1, limit=1_000_000, topics=topics
        ):
            event = core.mapper.to_domain_event(notification)
            if getattr(event, "campaign_id", None) == campaign:
                kind = type(event).__name__
                found.setdefault(event.recipient, []).append((kind, event.message_id))  # type: ignore[attr-defined]
    finally:
        core.close()
    return found


def test_a_campaign_killed_halfway_reaches_each_eligible_recipient_exactly_once(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    key = prepare(data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {key}"}
    csv = "to,first_name\n" + "".join(f"{address(i)},Client {i}\n" for i in range(RECIPIENTS))
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = serve(data_dir, port, log)
        try:
            created = httpx.post(
                f"{base}/v1/campaigns",
                json={
                    "name": "Soldes",
                    "template": "Bonjour {{ first_name }}, -20% ce week-end.",
                    "channel": "email",
                    "rate_per_second": 100,
                    "audience": "csv",
                },
                headers=auth,
                timeout=10,
            ).json()
            campaign = created["id"]
            uploaded = httpx.put(
                f"{base}/v1/campaigns/{campaign}/audience",
                content=csv.encode(),
                headers={**auth, "Content-Type": "text/csv"},
                timeout=30,
            ).json()
            assert uploaded["recipients"] == RECIPIENTS
            httpx.post(f"{base}/v1/campaigns/{campaign}/schedule", json={}, headers=auth)
            deadline = time.monotonic() + 60
            while True:
                shown = httpx.get(f"{base}/v1/campaigns/{campaign}", headers=auth).json()
                if shown["progress"]["decided"] >= 300:
                    break
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.05)
            assert shown["state"] == "running"
            process.send_signal(signal.SIGKILL)  # halfway: no chance to finish anything
            process.wait(timeout=10)
            killed_at = shown["progress"]["decided"]
            assert killed_at < RECIPIENTS

            process = serve(data_dir, port, log)
            deadline = time.monotonic() + 90
            while True:
                shown = httpx.get(f"{base}/v1/campaigns/{campaign}", headers=auth).json()
                if shown["state"] == "finished" and (
                    shown["progress"]["queued"] + shown["progress"]["blocked"] == RECIPIENTS
                ):
                    break
                assert time.monotonic() < deadline, (shown, log_path.read_text()[-3000:])
                time.sleep(0.1)
            assert (shown["progress"]["queued"], shown["progress"]["blocked"]) == (
                ELIGIBLE,
                RECIPIENTS - ELIGIBLE,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    found = campaign_messages(data_dir, UUID(campaign))
    assert sorted(found) == sorted(address(i) for i in range(RECIPIENTS))
    kinds = Counter(kind for records in found.values() for kind, _ in records)
    assert kinds == Counter({"MessageQueued": ELIGIBLE, "MessageBlocked": RECIPIENTS - ELIGIBLE})
    for i in range(RECIPIENTS):
        records = found[address(i)]
        assert len(records) == 1, (address(i), records)
        expected = "MessageQueued" if i < ELIGIBLE else "MessageBlocked"
        assert records[0][0] == expected

    verified = subprocess.run(
        [sys.executable, "-m", "chainon.cli", "projections", "verify", "all"],
        env={**os.environ, "CHAINON_DATA_DIR": str(data_dir), "CHAINON_DEMO_BRAND": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "campaign_stats" in verified.stdout
