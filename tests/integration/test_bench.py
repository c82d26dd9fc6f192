"""The benchmark harness runs end to end at tiny counts and writes a complete JSON.

No timing is asserted: only that each figure is there with its raw limit and ratio, that
the machine is described, and that the scenario accounted for every message it sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CHEAP = ("sqlite.insert", "eventsourcing.sqlite.save-each", "eventsourcing.sqlite.save-100")


def test_a_tiny_run_writes_every_figure_beside_its_limit(tmp_path: Path) -> None:
    limits = [arg for name in CHEAP for arg in ("--limit", name)]
    selection = ["--scenario", "inbound-burst", "--mode", "embedded", *limits]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chainon.cli",
            "bench",
            "--tiny",
            *selection,
            "--output",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [written] = tmp_path.glob("*.json")
    run = json.loads(written.read_text())

    machine = run["machine"]
    assert machine["cores"] >= 1
    for library in ("python", "sqlite", "eventsourcing", "aiokafka", "pydantic"):
        assert machine["versions"][library]
    assert run["size"] == "tiny"
    assert run["failed"] == []

    results = {r["key"]: r for r in run["results"]}
    assert set(results) == {*CHEAP, "inbound-burst@embedded"}
    for key, r in results.items():
        figures = [r["count"], r["seconds"], r["throughput"], *r["rss"].values()]
        figures += [r["limit"]["throughput"], r["ratio_to_limit"]]
        figures += [b[field] for b in r["baselines"] for field in ("throughput", "ratio")]
        assert r["rss"], key
        assert r["limit"]["name"], key
        assert all(isinstance(f, int | float) and f > 0 for f in figures), (key, figures)

    burst = results["inbound-burst@embedded"]
    assert burst["limit"]["name"] == "sqlite.insert"
    assert len(burst["baselines"]) == 2
    assert burst["extra"]["messages_found"] == burst["count"] == run["counts"]["messages"]
    assert burst["extra"]["conversations"] == run["counts"]["conversations"]
    assert burst["settings"]["store"] == "sqlite"
    assert not list(tmp_path.glob("work-*")), "the measurements' directories are left behind"
