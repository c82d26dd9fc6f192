"""``python -m bench``: choose what to measure, start the servers it needs, run, report."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench.goals import judge, print_goals
from bench.machine import machine
from bench.registry import MODES, ROW_BYTES, ROWS_PER_TRANSACTION, SIZES, load
from bench.report import compare, print_table, write_json
from bench.runner import plan, run_plan
from bench.services import ServiceFailed, Services

DEFAULT_OUTPUT = Path("var") / "bench"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Chainon's benchmark: scenarios beside the raw limits of this machine.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_const",
        dest="size",
        const="quick",
        help="smaller counts: the whole run in under five minutes",
    )
    size.add_argument(
        "--tiny",
        action="store_const",
        dest="size",
        const="tiny",
        help="a few records each: checks the plumbing, measures nothing",
    )
    p.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="run this scenario (repeatable; default: every one)",
    )
    p.add_argument(
        "--mode",
        action="append",
        choices=MODES,
        help="run scenarios in this mode (repeatable; default: both)",
    )
    p.add_argument(
        "--limit",
        action="append",
        metavar="NAME",
        help="run this raw limit or baseline (repeatable; default: every one)",
    )
    p.add_argument("--no-limits", action="store_true", help="run no raw limit or baseline")
    p.add_argument("--no-scenarios", action="store_true", help="run the limits and baselines only")
    p.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where the JSON goes (default: var/bench)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds one measurement may take (default: 3600)",
    )
    p.add_argument("--list", action="store_true", help="list the measurements and exit")
    p.set_defaults(size="full")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a log file or a pipe: room for the whole table
        console = Console(width=200)
    registry = load()
    if args.list:
        for m in sorted(registry.values(), key=lambda m: (m.kind, m.name)):
            console.print(
                f"{m.kind.value:9} {m.name:32} {','.join(m.modes):10} {m.summary}", soft_wrap=True
            )
        return 0
    try:
        steps = plan(
            registry,
            scenarios=[] if args.no_scenarios else args.scenario,
            limits=[] if args.no_limits else args.limit,
            modes=args.mode or MODES,
        )
    except ValueError as exc:
        console.print(f"[red]error: {exc}")
        return 2
    if not steps:
        console.print("[red]error: nothing selected")
        return 2

    started = datetime.now(UTC)
    clock = time.perf_counter()
    work = args.output / f"work-{started.strftime('%Y%m%dT%H%M%SZ')}"

    def say(line: str) -> None:
        console.print(f"[dim]{time.perf_counter() - clock:7.1f}s[/dim] {line}", highlight=False)

    header = {
        "started_at": started.isoformat(),
        "size": args.size,
        "counts": vars(SIZES[args.size]),
        "row_bytes": ROW_BYTES,
        "rows_per_transaction": ROWS_PER_TRANSACTION,
        "selected": [s.key for s in steps],
        "machine": machine(),
    }
    # SIGTERM unwinds like Ctrl-C, so that every server started below is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Services(say) as services:
        try:
            services.start(set().union(*(s.needs for s in steps)))
            header["services"] = services.versions()
            outcomes = run_plan(steps, args.size, services, work, args.timeout, say)
        except ServiceFailed as exc:
            console.print(f"[red]error: {exc}")
            return 1
        finally:
            shutil.rmtree(work, ignore_errors=True)
    results = compare(outcomes)
    header["finished_at"] = datetime.now(UTC).isoformat()
    header["failed"] = [r["key"] for r in results if "error" in r]
    header["goals"] = judge(results)
    path = write_json(args.output, started, header, results)
    print_table(
        console,
        results,
        f"Chainon bench ({args.size}) on {header['machine']['cores']} cores, "
        f"commit {header['machine']['commit']}",
    )
    print_goals(console, header["goals"])
    console.print(f"written to {path}")
    if header["failed"]:
        console.print(f"[bold red]failed: {', '.join(header['failed'])}")
        return 1
    return 0
