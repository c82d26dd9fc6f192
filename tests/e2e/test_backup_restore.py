"""``chainon backup`` while ``chainon serve`` takes a stream of messages, then ``chainon
restore`` into a new directory and a start on it: the read models verify against a rebuild,
every public event of the restored store is on the log exactly once (the relay resumed
without publishing anything twice), and no message is recorded twice."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from chainon.core import Core
from chainon.domain.channels import Channel
from chainon.domain.public_events import is_public
from chainon.event_store import store_env
from chainon.settings import Settings
from chainon.topics import Topics
from tests.conftest import BRAND_SMS
from tests.e2e.test_shutdown import free_port

MESSAGES = 2000  # at most: the stream stops a little after the copy
AFTER_THE_COPY = 20


def chainon(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chainon.cli", *args],
        env={**os.environ, "CHAINON_DATA_DIR": str(data_dir), "CHAINON_DEMO_BRAND": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def serve(data_dir: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHAINON_DATA_DIR": str(data_dir), "CHAINON_DEMO_BRAND": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "chainon.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the server stopped"
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def relay_position(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'chainon.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT MAX(notification_id) FROM tracking WHERE application_name = 'relay'"
        ).fetchone()
    return int(row[0] or 0)


def test_a_backup_taken_while_serving_restores_to_a_store_the_relay_resumes_once(
    tmp_path: Path,
) -> None:
    live, copy, restored = tmp_path / "live", tmp_path / "backup", tmp_path / "restored"
    core = Core(store_env(Settings(data_dir=live)))
    brand = core.register_brand(slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)])
    key = core.api_keys.issue(brand.id)
    core.close()
    auth = {"Authorization": f"Bearer {key}"}

    port = free_port()
    sent = threading.Event()
    with (tmp_path / "live.log").open("w") as log:
        process = serve(live, port, log)
        try:
            backed_up = threading.Event()
            written: list[int] = []

            def stream() -> None:
                """Writes until the copy is taken, and a few more after: the copy is taken
                mid-stream however slowly the machine runs."""
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth) as api:
                    after = 0
                    for i in range(MESSAGES):
                        answer = api.post(
                            "/v1/sandbox/inbound",
                            json={
                                "from": f"+336123456{i % 40:02d}",
                                "to": BRAND_SMS,
                                "body": f"message {i}",
                                "provider_message_id": f"in-{i}",
                            },
                            timeout=30,
                        )
                        assert answer.status_code == 202, answer.text
                        written.append(i)
                        after += backed_up.is_set()
                        if after >= AFTER_THE_COPY:
                            break
                sent.set()

            writer = threading.Thread(target=stream)
            writer.start()
            while not written and writer.is_alive():
                time.sleep(0.05)  # some messages in before the copy starts
            taken = chainon(live, "backup", str(copy))
            backed_up.set()
            writer.join(timeout=300)
            assert sent.is_set(), "the stream did not finish"
        finally:
            stop(process)
    assert taken.returncode == 0, taken.stderr
    assert "the restored relay resumes after event" in taken.stdout
    assert (copy / "chainon.sqlite3").is_file()
    assert oct((copy / "chainon.sqlite3").stat().st_mode & 0o777) == "0o600"

    refused = chainon(live, "backup", str(copy))  # never over an earlier copy
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr

    put_back = chainon(restored, "restore", str(copy))
    assert put_back.returncode == 0, put_back.stderr

    core = Core(store_env(Settings(data_dir=restored)))
    head = core.recorder.max_notification_id() or 0
    received = Counter(
        core.mapper.to_domain_event(n).provider_message_id  # type: ignore[attr-defined]
        for n in core.recorder.select_notifications(
            start=1, limit=1_000_000, topics=["chainon:Conversation.MessageReceived"]
        )
    )
    public = [
        n.id
        for n in core.recorder.select_notifications(start=1, limit=1_000_000)
        if is_public(n.topic)
    ]
    core.close()
    assert 0 < sum(received.values()) < len(written)  # taken mid-stream
    assert max(received.values()) == 1  # no message recorded twice

    port = free_port()
    with (tmp_path / "restored.log").open("w") as log:
        process = serve(restored, port, log)
        try:
            deadline = time.monotonic() + 60
            while relay_position(restored) < head:
                assert time.monotonic() < deadline, "the restored relay did not catch up"
                time.sleep(0.1)
            time.sleep(0.5)  # anything it would publish twice would be there by now
        finally:
            stop(process)

    with sqlite3.connect(restored / "bus.sqlite3") as log_db:
        published = [
            json.loads(value)["position"]
            for (value,) in log_db.execute(
                "SELECT value FROM bus_records WHERE topic = ?", (Topics("chainon").events,)
            )
        ]
    twice = sorted(p for p, n in Counter(published).items() if n > 1)
    warned = [
        f"{name}: {line}"
        for name in ("live.log", "restored.log")
        for line in (tmp_path / name).read_text().splitlines()
        if "warning" in line.lower() or "error" in line.lower()
    ]
    assert not twice, (f"published twice: {twice}", warned[-20:])
    # each public event of the copy once, none missing; the restored process may have
    # recorded more since (a deadline that came due), and those are its own to publish
    assert sorted(p for p in published if p <= head) == public
    core = Core(store_env(Settings(data_dir=restored)))
    later = {n.id: n.topic for n in core.recorder.select_notifications(start=head + 1, limit=1_000)}
    core.close()
    assert {p for p in published if p > head} <= set(later), later

    verified = chainon(restored, "projections", "verify", "all")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_copied_relay_resumes_after_the_last_event_the_copied_log_holds(
    tmp_path: Path,
) -> None:
    """The log is copied before the store: events the relay published in between are not in
    the log's copy, so the store's copy must not say they were."""
    from chainon.adapters.bus.embedded import _SCHEMA
    from chainon.backup import _align_relay

    with sqlite3.connect(tmp_path / "bus.sqlite3") as log_db:
        for statement in _SCHEMA:
            log_db.execute(statement)
        for offset, position in enumerate((3, 5)):
            log_db.execute(
                "INSERT INTO bus_records (topic, offset, value, timestamp_ms) VALUES (?, ?, ?, 0)",
                ("chainon.events.v1", offset, json.dumps({"position": position})),
            )
    with sqlite3.connect(tmp_path / "chainon.sqlite3") as store:
        store.execute("CREATE TABLE tracking (application_name TEXT, notification_id INTEGER)")
        store.executemany(
            "INSERT INTO tracking VALUES (?, ?)", [("relay", 8), ("relay", 9), ("views", 9)]
        )
    assert _align_relay(tmp_path, "chainon.events.v1") == 5
    assert relay_position(tmp_path) == 5
    with sqlite3.connect(tmp_path / "chainon.sqlite3") as store:
        others = store.execute("SELECT * FROM tracking WHERE application_name = 'views'").fetchall()
    assert others == [("views", 9)]  # only the relay's position moves
