"""Issue 18's goals, each a ratio of two figures of the same run (or a latency bound),
marked met or not met: on a 2-core machine shared with other work, only ratios measured
side by side mean something."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Goal:
    """``measured`` ≥ ``at_least`` × ``reference`` (throughputs); or, with ``p99_ms``, the
    measurement's p99 latency at most that; or, with ``extra``, that figure of its extras
    at least ``at_least``."""

    text: str
    measured: str
    reference: str | None = None
    at_least: float = 0.0
    p99_ms: float | None = None
    extra: str | None = None


GOALS = (
    Goal(
        "inbound burst embedded (chainon serve's tree) ≥ 1.0× plain eventsourcing save-100",
        "inbound-burst@embedded-tree",
        "eventsourcing.sqlite.save-100",
        1.0,
    ),
    Goal(
        "distributed inbound ≥ 0.8× embedded",
        "inbound-burst@distributed",
        "inbound-burst@embedded",
        0.8,
    ),
    Goal(
        "rebuild distributed ≥ 25 % of raw PostgreSQL insert",
        "rebuild@distributed",
        "postgres.insert",
        0.25,
    ),
    Goal("rebuild embedded ≥ 50 % of raw SQLite insert", "rebuild@embedded", "sqlite.insert", 0.5),
    Goal(
        "send-smpp (chainon serve's tree) ≥ 0.25× send-core",
        "send-smpp@embedded-tree",
        "send-core@embedded",
        0.25,
    ),
    Goal(
        "send-smpp-batch (chainon serve's tree) ≥ 0.6× send-core",
        "send-smpp-batch@embedded-tree",
        "send-core@embedded",
        0.6,
    ),
    Goal(
        "send-smpp, one process ≥ 0.25× send-core",
        "send-smpp@embedded",
        "send-core@embedded",
        0.25,
    ),
    Goal(
        "send-smpp-batch, one process ≥ 0.6× send-core",
        "send-smpp-batch@embedded",
        "send-core@embedded",
        0.6,
    ),
    Goal(
        "steady load embedded (chainon serve's tree) p99 ≤ 250 ms",
        "steady-load@embedded-tree",
        p99_ms=250,
    ),
    Goal("steady load embedded, one process p99 ≤ 250 ms", "steady-load@embedded", p99_ms=250),
    Goal("steady load distributed p99 ≤ 250 ms", "steady-load@distributed", p99_ms=250),
    Goal(
        "long conversation: last thousand ≥ 0.8× the first",
        "long-conversation@embedded",
        at_least=0.8,
        extra="one_conversation_last_to_first",
    ),
)


def judge(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every goal with its figures and ``met`` (None when a figure is missing from the run)."""
    found = {r["key"]: r for r in results if "error" not in r}
    judged = []
    for goal in GOALS:
        measured = found.get(goal.measured)
        value: float | None = None
        target: float | None = None
        if measured is None:
            pass
        elif goal.p99_ms is not None:
            latency = measured.get("latency")
            value, target = (latency["p99"] if latency else None), goal.p99_ms
        elif goal.extra is not None:
            raw = measured.get("extra", {}).get(goal.extra)
            value, target = (float(raw) if raw is not None else None), goal.at_least
        elif goal.reference is not None and goal.reference in found:
            reference = found[goal.reference]["throughput"]
            value = measured["throughput"] / reference if reference else None
            target = goal.at_least
        met = None
        if value is not None and target is not None:
            met = value <= target if goal.p99_ms is not None else value >= target
        judged.append(
            {
                "goal": goal.text,
                "measured": goal.measured,
                "reference": goal.reference,
                "value": round(value, 4) if value is not None else None,
                "target": target,
                "met": met,
            }
        )
    return judged


def print_goals(console: Console, judged: list[dict[str, Any]]) -> None:
    table = Table(title="Issue 18's goals (ratios within this run)", title_justify="left")
    for column in ("goal", "figure", "target", "met"):
        table.add_column(column)
    for g in judged:
        unit = " ms" if g["goal"].endswith("ms") else "×"
        figure = f"{g['value']:.3g}{unit}" if g["value"] is not None else "– (not in this run)"
        met = {True: "[green]met", False: "[red]not met", None: "[dim]–"}[g["met"]]
        table.add_row(g["goal"], figure, f"{g['target']}{unit}" if g["target"] else "", met)
    console.print(table)
