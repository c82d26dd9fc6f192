"""The run's figures beside their raw limits and baselines: a rich table and a JSON file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.registry import Kind
from bench.runner import Outcome

MB = 2**20


def _ratio(value: float, reference: float | None) -> float | None:
    return round(value / reference, 4) if reference else None


def compare(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Every result with its limit, its baselines and the ratios to them resolved.

    A limit is its own reference (ratio 1); a reference missing from the run (not
    selected, or failed) is named with a null value and a null ratio.
    """
    rates = {o.result.name: o.result.throughput for o in outcomes if o.result is not None}
    documents = []
    for outcome in outcomes:
        step, result = outcome.step, outcome.result
        document: dict[str, Any] = {
            "key": step.key,
            "kind": step.measurement.kind.value,
            "summary": step.measurement.summary,
            "wall_seconds": round(outcome.wall_seconds, 3),
        }
        if result is None:
            documents.append({**document, "error": outcome.error, "log_tail": outcome.log_tail})
            continue
        document |= result.to_json()
        limit = result.name if step.measurement.kind is Kind.LIMIT else result.limit
        document["limit"] = {"name": limit, "throughput": rates.get(limit) if limit else None}
        document["ratio_to_limit"] = _ratio(result.throughput, document["limit"]["throughput"])
        document["baselines"] = [
            {
                "name": name,
                "throughput": rates.get(name),
                "ratio": _ratio(result.throughput, rates.get(name)),
            }
            for name in result.baselines
        ]
        documents.append(document)
    return documents


def write_json(
    directory: Path, started: datetime, header: dict[str, Any], results: list[dict[str, Any]]
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps({**header, "results": results}, indent=2, default=str) + "\n")
    return path


def _rate(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "–"


def _times(ratio: float | None) -> str:
    return f"{ratio:.1%}" if ratio is not None else "–"


def _cpu(stages: dict[str, float]) -> str:
    """The stages that cost anything, dearest first; the whole process once (its threads
    follow it, indented)."""
    shown = sorted(((v, k) for k, v in stages.items() if v >= 0.005), reverse=True)
    return "\n".join(f"{k} {v:.2f}" for v, k in shown) or "–"


def print_table(console: Console, results: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column, justify in (
        ("measurement", "left"),
        ("count", "right"),
        ("s", "right"),
        ("per s", "right"),
        ("p50/p95/p99/max ms", "right"),
        ("peak RSS MB", "left"),
        ("CPU-ms per message, by stage", "left"),
        ("raw limit /s", "right"),
        ("of limit", "right"),
        ("of baselines", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    kind = None
    for r in results:
        if r["kind"] != kind:
            kind = r["kind"]
            table.add_section()
        if "error" in r:
            table.add_row(r["key"], "", "", "[bold red]FAILED", r["error"][:60])
            continue
        latency = r["latency"]
        table.add_row(
            f"{r['key']}\n[dim]{r['unit']}",
            f"{r['count']:,}",
            f"{r['seconds']:.2f}",
            f"[bold]{_rate(r['throughput'])}",
            "/".join(f"{latency[p]:.1f}" for p in ("p50", "p95", "p99", "max"))
            + f"\n[dim]{r['latency_of']}"
            if latency
            else "–",
            "\n".join(f"{name} {value / MB:,.0f}" for name, value in r["rss"].items()),
            _cpu(r.get("cpu_ms_per_message") or {}),
            f"{_rate(r['limit']['throughput'])}\n[dim]{r['limit']['name'] or ''}",
            _times(r["ratio_to_limit"]) if r["kind"] != Kind.LIMIT else "(itself)",
            "\n".join(f"{_times(b['ratio'])} of {b['name']}" for b in r["baselines"]) or "–",
        )
    console.print(table)
    for r in results:
        if r.get("extra"):
            figures = ", ".join(f"{k}={v}" for k, v in r["extra"].items())
            console.print(f"[dim]{r['key']}:[/dim] {figures}", soft_wrap=True)
        if r.get("log_tail"):
            console.print(f"[red]{r['key']} output:[/red]\n{r['log_tail']}", soft_wrap=True)
