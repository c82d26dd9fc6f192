"""Runs a plan: each measurement in its own process, with the servers' memory watched."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.memory import Watch
from bench.registry import Context, Kind, Measurement, Service, family
from bench.result import Result
from bench.services import Services

ORDER = {Kind.LIMIT: 0, Kind.BASELINE: 1, Kind.SCENARIO: 2}


@dataclass(frozen=True)
class Step:
    measurement: Measurement
    mode: str

    @property
    def key(self) -> str:
        return self.measurement.key(self.mode)

    @property
    def needs(self) -> frozenset[Service]:
        return self.measurement.needs_in(self.mode)


@dataclass
class Outcome:
    step: Step
    result: Result | None = None
    error: str = ""
    log_tail: str = ""
    wall_seconds: float = 0.0


def plan(
    registry: dict[str, Measurement],
    *,
    scenarios: Iterable[str] | None,
    limits: Iterable[str] | None,
    modes: Iterable[str],
) -> list[Step]:
    """Limits first, then baselines, then scenarios in each selected mode they support.
    ``None`` selects every one of that kind; an unknown name raises ValueError."""
    wanted_scenarios = set(scenarios) if scenarios is not None else None
    wanted_limits = set(limits) if limits is not None else None
    for name in (wanted_scenarios or set()) | (wanted_limits or set()):
        if name not in registry:
            raise ValueError(f"no measurement {name!r} (known: {', '.join(sorted(registry))})")
    steps: list[Step] = []
    for m in sorted(registry.values(), key=lambda m: (ORDER[m.kind], m.name)):
        if m.kind is Kind.SCENARIO:
            if wanted_scenarios is None or m.name in wanted_scenarios:
                steps += [Step(m, mode) for mode in m.modes if family(mode) in modes]
        elif wanted_limits is None or m.name in wanted_limits:
            steps.append(Step(m, "raw"))
    return steps


def run_step(
    step: Step,
    size: str,
    services: Services,
    work: Path,
    timeout: float,
    measured: dict[str, float] | None = None,
) -> Outcome:
    directory = work / step.key.replace("@", "-")
    directory.mkdir(parents=True)
    ctx = Context(
        size=size,
        mode=step.mode,
        data_dir=directory / "data",
        postgres_dsn=services.postgres_dsn,
        kafka_bootstrap=services.kafka_bootstrap,
        smsc=services.smsc,
        servers={name: pid for name, pid in services.pids.items() if name in step.needs},
        measured=dict(measured or {}),
    )
    ctx.data_dir.mkdir()
    context_path, result_path = directory / "context.json", directory / "result.json"
    context_path.write_text(json.dumps(ctx.to_json()))
    log_path = directory / "output.log"
    watched = {name: pid for name, pid in services.pids.items() if name in step.needs}
    name = step.measurement.name
    began = time.perf_counter()
    outcome = Outcome(step)
    with log_path.open("wb") as log, Watch(watched) as watch:
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.child", str(context_path), str(result_path), name],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            outcome.error = f"no result after {timeout:.0f}s"
        finally:
            if child.poll() is None:  # timed out, or we are being stopped
                child.kill()  # our own child, by its PID
                child.wait()
    outcome.wall_seconds = time.perf_counter() - began
    document = json.loads(result_path.read_text()) if result_path.exists() else {}
    if "result" in document:
        outcome.result = Result.from_json(document["result"])
        outcome.result.rss.update(watch.peaks)
    else:
        outcome.error = outcome.error or document.get("error") or f"exit code {child.returncode}"
        outcome.log_tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
    return outcome


def run_plan(
    steps: list[Step],
    size: str,
    services: Services,
    work: Path,
    timeout: float,
    say: Callable[[str], None],
) -> list[Outcome]:
    outcomes = []
    measured: dict[str, float] = {}
    for step in steps:
        say(f"running {step.key} ({step.measurement.summary})")
        services.reset_smsc()
        outcome = run_step(step, size, services, work, timeout, measured)
        if outcome.result is not None:
            r = outcome.result
            measured[step.key] = r.throughput
            say(f"  {r.count:,} {r.unit} in {r.seconds:.2f}s: {r.throughput:,.0f}/s")
        else:
            say(f"  FAILED: {outcome.error}")
        outcomes.append(outcome)
    return outcomes
