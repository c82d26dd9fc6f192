"""The benchmark harness runs end to end at tiny counts and writes a complete JSON.

No timing is asserted: only that each figure is there with its raw limit and ratio, that
the machine is described, and that each scenario accounted for every message it sent.
The distributed run uses the tests' own PostgreSQL and Kafka broker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainon.projections.catalogue import all_projections
from tests.conftest import ROOT

CHEAP = ("sqlite.insert", "eventsourcing.sqlite.save-each", "eventsourcing.sqlite.save-100")
ON_POSTGRES = (
    "postgres.insert",
    "eventsourcing.postgres.save-each",
    "eventsourcing.postgres.save-100",
)
SCENARIOS = ("inbound-burst", "outbound-receipts", "steady-load", "rebuild", "send-core")
PROJECTIONS = len(all_projections())  # every read model, rebuilt in one pass


def run_bench(output: Path, *arguments: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--tiny",
            *arguments,
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    written = list(output.glob("*.json"))
    run: dict[str, Any] = json.loads(written[0].read_text()) if written else {}
    failures = [
        f"{r['key']}: {r['error']}\n{r.get('log_tail', '')}"
        for r in run.get("results", [])
        if "error" in r
    ]
    assert done.returncode == 0, "\n".join([done.stdout, done.stderr, *failures])
    assert len(written) == 1
    assert run["size"] == "tiny"
    assert run["failed"] == []
    assert not list(output.glob("work-*")), "the measurements' directories are left behind"
    return run


def selection(scenarios: tuple[str, ...], limits: tuple[str, ...], mode: str) -> list[str]:
    chosen = [arg for name in scenarios for arg in ("--scenario", name)]
    return [*chosen, "--mode", mode, *(arg for name in limits for arg in ("--limit", name))]


def check_figures(results: dict[str, dict[str, Any]]) -> None:
    """Every figure positive, beside its raw limit and baselines, with the ratios."""
    for key, r in results.items():
        figures = [r["count"], r["seconds"], r["throughput"], *r["rss"].values()]
        figures += [r["limit"]["throughput"], r["ratio_to_limit"]]
        figures += [b[field] for b in r["baselines"] for field in ("throughput", "ratio")]
        assert r["rss"], key
        assert r["limit"]["name"], key
        assert all(isinstance(f, int | float) and f > 0 for f in figures), (key, figures)


def check_cpu(results: dict[str, dict[str, Any]]) -> None:
    """Every scenario and baseline says what a message cost each stage in CPU time."""
    measured = [r for r in results.values() if r["kind"] != "limit"]
    # A tiny baseline may end within one clock tick (10 ms): each names the stage, and the
    # run as a whole shows its CPU.
    assert sum(r["cpu_ms_per_message"]["this process"] for r in measured) > 0
    for key, r in results.items():
        if r["kind"] == "limit":
            continue
        stages = r["cpu_ms_per_message"]
        assert "this process" in stages, (key, stages)
        assert all(v >= 0 for v in stages.values()), (key, stages)
        assert stages == {
            stage: round(s * 1000 / r["count"], 4) for stage, s in r["cpu"].items()
        }, key


def check_scenarios(run: dict[str, Any], results: dict[str, dict[str, Any]], mode: str) -> None:
    """Each scenario's own accounting: every message it sent is in its figures."""
    counts = run["counts"]
    check_cpu(results)
    store, limit = (
        ("postgres", "postgres.insert") if mode != "embedded" else ("sqlite", "sqlite.insert")
    )

    burst = results[f"inbound-burst@{mode}"]
    assert burst["limit"]["name"] == limit
    assert len(burst["baselines"]) == 2
    assert burst["extra"]["messages_found"] == burst["count"] == counts["messages"]
    assert burst["extra"]["conversations"] == counts["conversations"]
    assert burst["settings"]["store"] == store

    sends = results[f"outbound-receipts@{mode}"]
    assert sends["extra"]["delivered"] == sends["count"] == counts["sends"]
    assert sends["latency"]["samples"] == counts["sends"]
    assert sends["limit"]["name"] == limit
    assert sends["settings"]["sandbox_receipt_delay"] < 1

    steady = results[f"steady-load@{mode}"]  # at half the burst's rate in this run
    rate = max(1, round(burst["throughput"] / 2))
    assert steady["extra"]["target_rate"] == rate
    assert steady["extra"]["rate_from"].startswith(f"half of inbound-burst@{mode}")
    assert steady["count"] == rate * counts["steady_seconds"]
    assert steady["latency"]["samples"] == steady["count"]
    assert steady["latency"]["p50"] <= steady["latency"]["p99"] <= steady["latency"]["max"]
    # and a client's write through the API, read back with min_position, alongside
    extra = steady["extra"]
    assert extra["answer_to_readable_samples"] >= 1
    assert 0 < extra["answer_to_readable_p50_ms"] <= extra["answer_to_readable_p99_ms"]
    per_conversation = counts["messages"] // counts["conversations"]
    new = max(1, steady["count"] // per_conversation)  # opened by the load, one in ten
    assert extra["conversations_open_before"] == new  # and as many open before the clock
    assert new <= extra["conversations"] <= 2 * new

    rebuild = results[f"rebuild@{mode}"]
    assert rebuild["unit"] == "events"
    assert rebuild["count"] >= counts["rebuild_events"]
    assert rebuild["extra"]["projections"] == PROJECTIONS
    assert rebuild["extra"]["events_read"] == rebuild["count"]  # one pass for them all
    assert rebuild["limit"]["name"] == limit

    core = results[f"send-core@{mode}"]  # the send path's three decisions, nothing else
    assert core["extra"]["delivered"] == core["count"] == counts["sends"]
    assert core["extra"]["commands_per_second"] > core["throughput"]
    assert core["limit"]["name"] == limit
    assert core["settings"]["store"] == store


def test_a_tiny_embedded_run_writes_every_figure_beside_its_limit(tmp_path: Path) -> None:
    limits = (*CHEAP, "smpp.submit")
    embedded_only = ("send-smpp", "send-smpp-batch", "long-conversation", "campaign")
    run = run_bench(tmp_path, *selection((*SCENARIOS, *embedded_only), limits, "embedded"))

    machine = run["machine"]
    assert machine["cores"] >= 1
    for library in ("python", "sqlite", "eventsourcing", "aiokafka", "pydantic"):
        assert machine["versions"][library]

    results = {r["key"]: r for r in run["results"]}
    assert set(results) == {
        *limits,
        *(f"{name}@embedded" for name in (*SCENARIOS, *embedded_only)),
        "inbound-burst@embedded-tree",  # through chainon serve's default process tree
        "steady-load@embedded-tree",
        "send-smpp@embedded-tree",
        "send-smpp-batch@embedded-tree",
    }
    check_figures(results)
    check_scenarios(run, results, "embedded")
    smpp = results["send-smpp@embedded"]  # HTTP → store → SMSC simulator → receipt
    assert smpp["extra"]["delivered"] == smpp["count"] == run["counts"]["sends"]
    assert smpp["latency"]["samples"] == smpp["count"]
    assert smpp["limit"]["name"] == "smpp.submit"
    assert "chainon (embedded, one process)" in results["inbound-burst@embedded"]["rss"]
    batch = results["send-smpp-batch@embedded"]  # through POST /v1/messages/batch
    assert batch["extra"]["delivered"] == batch["count"] == run["counts"]["sends"]
    assert batch["extra"]["sends_per_request"] > 1
    for name in ("send-smpp", "send-smpp-batch"):  # the same sends through chainon serve's tree
        sent = results[f"{name}@embedded-tree"]
        one = results[f"{name}@embedded"]
        assert sent["extra"]["delivered"] == sent["count"] == run["counts"]["sends"]
        assert sent["extra"]["processes"] == 2
        assert sent["extra"]["sends_per_request"] == one["extra"]["sends_per_request"]
        assert sent["latency"]["samples"] == one["latency"]["samples"]
        assert sent["limit"]["name"] == "smpp.submit"
        assert sent["settings"]["smpp_links"] == one["settings"]["smpp_links"]
        assert "chainon serve" in sent["cpu"]  # the core and the API; its child by name
        assert "chainon serve's child (dispatch+relay+views+webhooks)" in sent["cpu"]
        assert "chainon serve (tree)" in sent["rss"]
        assert "chainon serve (tree) child (largest)" in sent["rss"]
    # the embedded process's threads, by name, beside the process
    stages = results["inbound-burst@embedded"]["cpu_ms_per_message"]
    assert stages["this process: main thread (event loop)"] > 0
    assert "this process: chainon-store" in stages

    tree = results["inbound-burst@embedded-tree"]  # chainon serve: the core, and its child
    assert tree["extra"]["messages_found"] == tree["count"] == run["counts"]["messages"]
    assert tree["extra"]["processes"] == 2
    # each process its own stage (a tiny run's second may hold no tick of one of them)
    assert {"chainon serve", "chainon serve's child (dispatch+relay+views+webhooks)"} <= set(
        tree["cpu"]
    )
    assert tree["settings"]["store"] == "sqlite"
    steady = results["steady-load@embedded-tree"]  # published from here, heard by its bell
    assert steady["count"] == steady["extra"]["target_rate"] * run["counts"]["steady_seconds"]
    assert steady["extra"]["rate_from"].startswith("half of inbound-burst@embedded-tree")
    assert steady["extra"]["answer_to_readable_samples"] >= 1  # over HTTP, to its API
    assert "chainon serve (tree)" in steady["rss"]

    campaign = results["campaign@embedded"]  # the worker's batches, through the sandbox
    assert campaign["extra"]["delivered"] == campaign["count"] == run["counts"]["sends"]
    assert campaign["extra"]["queued_per_second"] > 0
    assert campaign["extra"]["beside"] == "send-core@embedded"
    assert results[campaign["extra"]["beside"]]["count"] == campaign["count"]  # same run

    long = results["long-conversation@embedded"]
    assert long["count"] == run["counts"]["long_messages"]
    for half in ("one_conversation", "spread"):
        rates = long["extra"][f"{half}_rates_per_block"].split()
        assert len(rates) >= 2
        assert long["extra"][f"{half}_last_to_first"] == pytest.approx(
            float(rates[-1]) / float(rates[0]), rel=0.05
        )
    assert long["extra"]["page_ms_at_10"] > 0
    assert long["extra"]["page_ms_at_count"] > 0

    goals = {g["goal"]: g for g in run["goals"]}
    sends = {g["measured"]: g for g in goals.values() if g["reference"] == "send-core@embedded"}
    assert set(sends) == {  # judged on the tree, the one process beside it
        f"{name}@{mode}"
        for name in ("send-smpp", "send-smpp-batch")
        for mode in ("embedded", "embedded-tree")
    }
    for measured, judged in sends.items():
        assert judged["value"] == pytest.approx(
            results[measured]["throughput"] / results["send-core@embedded"]["throughput"],
            rel=1e-3,
        )
        assert judged["met"] is (judged["value"] >= judged["target"])
        assert judged["target"] == (0.25 if measured.startswith("send-smpp@") else 0.6)
    for measured in ("steady-load@embedded", "steady-load@embedded-tree"):
        [steady_goal] = [g for g in goals.values() if g["measured"] == measured]
        assert steady_goal["met"] is (steady_goal["value"] <= 250)
    [burst] = [g for g in goals.values() if g["measured"] == "inbound-burst@embedded-tree"]
    assert burst["reference"] == "eventsourcing.sqlite.save-100"
    assert burst["met"] is (burst["value"] >= burst["target"])
    assert goals["distributed inbound ≥ 0.8× embedded"]["met"] is None  # not in this run


def test_a_tiny_distributed_run_starts_workers_and_accounts_for_every_message(
    tmp_path: Path, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    servers = {
        "CHAINON_BENCH_POSTGRES_DSN": postgres_dsn,
        "CHAINON_BENCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
    }
    run = run_bench(tmp_path, *selection(SCENARIOS, ON_POSTGRES, "distributed"), env=servers)

    results = {r["key"]: r for r in run["results"]}
    distributed = {f"{name}@distributed" for name in SCENARIOS}
    assert set(results) == {*ON_POSTGRES, *distributed, "inbound-burst@distributed-2core"}
    check_figures(results)
    check_scenarios(run, results, "distributed")
    two = results["inbound-burst@distributed-2core"]
    assert two["extra"]["core_workers"] == 2
    assert two["extra"]["messages_found"] == two["count"] == run["counts"]["messages"]
    assert two["extra"]["conversations"] == run["counts"]["conversations"]
    for key, workers in (
        ("inbound-burst@distributed", {"core", "relay", "views"}),
        ("inbound-burst@distributed-2core", {"core 1", "core 2", "relay", "views"}),
        ("outbound-receipts@distributed", {"core", "relay", "dispatch"}),
        ("steady-load@distributed", {"core", "relay", "views"}),
    ):
        rss = results[key]["rss"]
        assert {f"chainon worker {w}" for w in workers} <= set(rss), (key, rss)
        assert results[key]["extra"]["warm_up_rounds"] >= 1
    assert not _workers_left(run), "a worker outlived its scenario"
    burst = results["inbound-burst@distributed"]["cpu_ms_per_message"]
    assert all(burst[f"chainon worker {role}"] > 0 for role in ("core", "relay", "views")), burst


def _workers_left(run: dict[str, Any]) -> list[str]:
    """Worker processes of this run's deployments still alive (their topic prefixes)."""
    prefixes = {
        r["settings"]["topic_prefix"]
        for r in run["results"]
        if r.get("settings", {}).get("bus") == "kafka"
    }
    left = []
    for path in Path("/proc").glob("[0-9]*/environ"):
        try:
            environ = path.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(f"CHAINON_TOPIC_PREFIX={p}".encode() in environ for p in prefixes):
            left.append(path.parent.name)
    return left
