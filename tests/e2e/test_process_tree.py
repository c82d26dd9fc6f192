"""``chainon serve`` in its default embedded mode: the core (the store's only writer) and
the API in the parent, the views, relay and dispatch in a child the parent supervises.

The rest of the e2e suite serves one process (``CHAINON_EMBEDDED_PROCESSES=1``, set in
conftest.py); these tests start the default tree, drive a representative flow through it,
kill its child, stop it, and check each time that the views the child fed equal a rebuild;
and scrape the parent's /metrics, which answers the child's metrics with its own.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Run

T = TypeVar("T")
BRAND_SMS = "+33939000001"  # the demo brand's (RCS first, then SMS)
START_WITHIN = 300.0  # seconds: two interpreters start on a shared, busy machine
CHILD_ROLES = "dispatch+relay+views+webhooks"
CHILD = f"child:{CHILD_ROLES}"  # the process label of the child's samples on /metrics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def until(check: Callable[[], T | None], within: float, what: str) -> T:
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found is not None and found is not False:
            return found
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.1)


@dataclass
class Tree:
    process: subprocess.Popen[bytes]
    client: httpx.Client
    data_dir: Path
    log: Path

    def children(self) -> list[int]:
        return children_of(self.process.pid)

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        answer = self.client.request(method, path, **kwargs)
        assert answer.status_code == status, answer.text
        return answer.json() if answer.content else None

    def inbound(self, sender: str, body: str, provider_id: str | None = None) -> Any:
        sent = {"from": sender, "to": BRAND_SMS, "body": body}
        if provider_id is not None:
            sent["provider_message_id"] = provider_id
        return self.call("POST", "/v1/sandbox/inbound", 202, json=sent)

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call("GET", f"/v1/conversations/{conversation_id}", 200)[
            "messages"
        ]
        return found

    def delivered(self, conversation_id: str, message_id: str) -> dict[str, Any] | None:
        for message in self.messages(conversation_id):
            if message["id"] == message_id and message["status"] == "delivered":
                return message
        return None

    def logged(self, event: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if f'"{event}"' in line]


def start_tree(data_dir: Path) -> Tree:
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(data_dir),
        "CHAINON_LOG_JSON": "true",
        "CHAINON_SANDBOX_RECEIPT_DELAY": "0.2",
    }
    env.pop("CHAINON_EMBEDDED_PROCESSES", None)  # the default: a parent and its child
    data_dir.mkdir(parents=True)
    port = free_port()
    log = data_dir / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "chainon.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    until(ready, START_WITHIN, "chainon serve answers /readyz")
    found = re.search(r"chn_\S+", (data_dir / "demo-api-key").read_text())
    assert found is not None
    client = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {found.group()}"}, timeout=30
    )
    return Tree(process, client, data_dir, log)


def verify_all(data_dir: Path) -> None:
    run = Run({"CHAINON_DATA_DIR": str(data_dir), "CHAINON_LOG_JSON": "false"})
    result = run("projections", "verify", "all")
    assert result.exit_code == 0, result.output
    assert "live and rebuilt agree" in result.output


def stop(tree: Tree) -> int:
    tree.client.close()
    if tree.process.poll() is None:
        tree.process.send_signal(signal.SIGTERM)
    try:
        return tree.process.wait(timeout=60)
    finally:
        if tree.process.poll() is None:
            tree.process.kill()
            tree.process.wait()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tree]:
    started = start_tree(tmp_path_factory.mktemp("tree") / "data")
    try:
        yield started
    finally:
        stop(started)


def test_a_conversation_flows_through_the_process_tree(tree: Tree) -> None:
    [child] = tree.children()
    assert alive(child)
    # Set through the API in the parent; the sandbox that sends is the child's.
    silent = "+33611110001"
    tree.call(
        "PUT", f"/v1/sandbox/outcomes/{silent}", 204, json={"outcome": "silent", "channel": "rcs"}
    )
    rcs = tree.call(
        "POST",
        "/v1/messages",
        202,
        json={"to": silent, "body": "Votre colis", "fallback_after_seconds": 60},
    )
    assert rcs["channel"] == "rcs"

    consumer = "+33611110002"
    received = tree.inbound(consumer, "Bonjour, ma commande ?")
    conversation = received["conversation_id"]
    queue = tree.call("GET", "/v1/queue", 200, params={"min_position": received["position"]})
    assert queue["caught_up"] is True
    assert conversation in [item["id"] for item in queue["items"]]

    reply = tree.call(
        "POST",
        f"/v1/conversations/{conversation}/messages",
        202,
        json={"body": "Elle part demain."},
    )
    until(lambda: tree.delivered(conversation, reply["message_id"]), 60, "the reply's receipt")

    # No receipt for the RCS message: its deadline (in the child's views) falls back to SMS.
    def replaced() -> dict[str, Any] | None:
        found = [
            m
            for m in tree.messages(rcs["conversation_id"])
            if m["fallback_of"] == rcs["message_id"]
        ]
        return found[0] if found and found[0]["status"] == "delivered" else None

    sms = until(replaced, 180, "the SMS that replaced the silent RCS message")
    assert sms["channel"] == "sms"
    original = [m for m in tree.messages(rcs["conversation_id"]) if m["id"] == rcs["message_id"]]
    assert original[0]["status"] != "delivered"

    # A campaign: run by the parent (its core writes), its audience read from the views.
    campaign = tree.call(
        "POST",
        "/v1/campaigns",
        201,
        json={"name": "Soldes", "template": "-20 %", "channel": "sms", "audience": "csv"},
    )["id"]
    audience = "to\n" + "".join(f"+3361111002{n}\n" for n in range(3))
    tree.call(
        "PUT",
        f"/v1/campaigns/{campaign}/audience",
        200,
        content=audience.encode(),
        headers={"Content-Type": "text/csv"},
    )
    tree.call("POST", f"/v1/campaigns/{campaign}/schedule", 200, json={})

    def finished() -> dict[str, Any] | None:
        shown: dict[str, Any] = tree.call("GET", f"/v1/campaigns/{campaign}", 200)
        return shown if shown["state"] == "finished" else None

    assert until(finished, 60, "the campaign finished")["progress"]["decided"] == 3

    head = tree.call("GET", "/readyz", 200)["head"]
    today = datetime.now(UTC).date().isoformat()
    report = tree.call(
        "GET", "/v1/analytics", 200, params={"from": today, "to": today, "min_position": head}
    )
    assert report["caught_up"] is True
    sms_day = [day for day in report["days"] if day["channel"] == "sms"]
    assert sms_day[0]["messages_in"] >= 1
    assert sms_day[0]["delivered"] >= 2  # the reply and the fallback
    verify_all(tree.data_dir)


def scrape(tree: Tree) -> dict[str, Metric]:
    """The parent's /metrics, each family once (the parser refuses what does not parse)."""
    answer = tree.client.get("/metrics")
    assert answer.status_code == 200
    found = list(text_string_to_metric_families(answer.text))
    twice = [name for name, n in Counter(f.name for f in found).items() if n > 1]
    assert not twice, twice
    typed = Counter(
        line.split()[2] for line in answer.text.splitlines() if line.startswith("# TYPE")
    )
    assert set(typed.values()) == {1}
    series = Counter((s.name, tuple(sorted(s.labels.items()))) for f in found for s in f.samples)
    assert set(series.values()) == {1}
    return {family.name: family for family in found}


def child_value(metrics: dict[str, Metric], sample: str, **labels: str) -> float:
    family = metrics[sample.removesuffix("_total")]
    wanted = {**labels, "process": CHILD}
    return sum(s.value for s in family.samples if s.name == sample and s.labels == wanted)


def test_the_parents_metrics_answer_the_childs(tree: Tree) -> None:
    tree.inbound("+33611110005", "Bonjour, les métriques ?")

    def relayed() -> dict[str, Metric] | None:
        metrics = scrape(tree)
        return metrics if child_value(metrics, "chainon_relay_events_total") > 0 else None

    metrics = until(relayed, 60, "the child's relay counted on the parent's /metrics")
    parent = [s for s in metrics["chainon_relay_events"].samples if "process" not in s.labels]
    assert parent  # the parent's own samples, as they were in one process, without a label
    assert "chainon_embedded_child_restarts" in metrics  # the parent's, restarted or not
    # the parent's API requests, counted in the parent only
    served = metrics["chainon_http_requests"].samples
    assert any(s.labels.get("route") == "/v1/sandbox/inbound" for s in served)
    assert not any(s.labels.get("process") == CHILD for s in served)
    assert "chainon_embedded_child_metrics_missed" in metrics  # a scrape may go without it


def test_a_killed_child_is_restarted_and_nothing_is_lost_or_applied_twice(tree: Tree) -> None:
    consumer = "+33611110003"
    [child] = tree.children()
    before = [tree.inbound(consumer, f"avant {n}", f"kill-{n}") for n in range(5)]
    conversation = before[0]["conversation_id"]
    sent = [
        tree.call("POST", f"/v1/conversations/{conversation}/messages", 202, json={"body": "un"})
    ]

    os.kill(child, signal.SIGKILL)
    during = [tree.inbound(consumer, f"pendant {n}", f"kill-{n + 5}") for n in range(5)]
    sent.append(
        tree.call("POST", f"/v1/conversations/{conversation}/messages", 202, json={"body": "deux"})
    )

    def restarted() -> int | None:
        now = tree.children()
        return now[0] if len(now) == 1 and now[0] != child else None

    until(restarted, START_WITHIN, "a new child")
    [line] = tree.logged("embedded.child_restarted")
    assert CHILD_ROLES in line
    assert '"exit_code": -9' in line
    after = [tree.inbound(consumer, f"après {n}", f"kill-{n + 10}") for n in range(5)]
    sent.append(
        tree.call("POST", f"/v1/conversations/{conversation}/messages", 202, json={"body": "trois"})
    )
    again = tree.inbound(consumer, "avant 0", "kill-0")  # a provider's retry: recorded once
    assert again["duplicate"] is True

    for message in sent:
        until(lambda m=message: tree.delivered(conversation, m["message_id"]), 120, "a receipt")
    messages = tree.messages(conversation)
    inbound = [m["body"] for m in messages if m["direction"] == "inbound"]
    assert sorted(inbound) == sorted(
        f"{w} {n}" for w in ("avant", "pendant", "après") for n in range(5)
    )
    outbound = [m["id"] for m in messages if m["direction"] == "outbound"]
    assert sorted(outbound) == sorted(m["message_id"] for m in sent)
    assert {a["conversation_id"] for a in before + during + after} == {conversation}

    head = tree.call("GET", "/readyz", 200)["head"]
    queue = tree.call("GET", "/v1/queue", 200, params={"min_position": head})
    assert queue["caught_up"] is True
    metrics = tree.client.get("/metrics").text
    assert f'chainon_embedded_child_restarts_total{{role="{CHILD_ROLES}"}} 1.0' in metrics
    verify_all(tree.data_dir)  # every event projected once: the views equal a rebuild


def test_sigterm_stops_the_whole_tree_cleanly(tmp_path: Path) -> None:
    tree = start_tree(tmp_path / "data")
    try:
        [child] = tree.children()
        tree.inbound("+33611110004", "Bonjour")
        for n in range(3):  # still on their way when the stop comes
            tree.call(
                "POST", "/v1/messages", 202, json={"to": f"+3361111001{n}", "body": "Bonjour"}
            )
    finally:
        code = stop(tree)
    assert code == 0, tree.log.read_text()[-3000:]
    until(lambda: not alive(child), 5, "the child gone with its parent")
    assert tree.logged("embedded.children_stopped")
    assert not tree.logged("embedded.child_restarted")
    verify_all(tree.data_dir)
