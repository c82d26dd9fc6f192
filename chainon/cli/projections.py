"""Read models from a terminal: where each stands, rebuild, verify."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from chainon.cli.base import console, projections_app, runtime_of, settings_of

if TYPE_CHECKING:
    from chainon.runtime import Runtime


@projections_app.command("status")
def projections_status(ctx: typer.Context) -> None:
    """Each read model's position, the store's head, and the lag between them."""
    with runtime_of(settings_of(ctx)) as runtime:
        rows = runtime.views.status()
    table = Table("projection", "position", "head", "lag", box=box.SIMPLE)
    for row in rows:
        lag = Text(str(row.lag), style="green" if row.lag == 0 else "yellow")
        table.add_row(row.name, str(row.position), str(row.head), lag)
    console().print(table)


@projections_app.command("rebuild")
def projections_rebuild(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A projection, or 'all'.")],
) -> None:
    """Rebuild from the first event into shadow tables, then swap them in (the API keeps
    serving the old ones meanwhile)."""
    from chainon.projections.rebuild import rebuild_many

    with runtime_of(settings_of(ctx)) as runtime:
        chosen = _chosen(runtime, name)
        started = time.perf_counter()
        with _progress(f"rebuilding {', '.join(chosen)}") as step:
            read = rebuild_many(runtime.views, chosen, step)  # one pass for them all
        elapsed = time.perf_counter() - started
        rate = read / elapsed if elapsed > 0 else 0.0
        console().print(
            Text(f"{', '.join(chosen)}: {read} events in {elapsed:.1f} s ({rate:,.0f} events/s)")
        )


@projections_app.command("verify")
def projections_verify(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A projection, or 'all'.")],
) -> None:
    """Rebuild in a shadow and compare with the live model; exits 1 on any difference."""
    from chainon.projections.rebuild import verify

    out = console()
    failed = False
    with runtime_of(settings_of(ctx)) as runtime:
        for projection in _chosen(runtime, name):
            with _progress(f"verifying {projection}") as step:
                found = verify(runtime.views, projection, step)
            if found:
                failed = True
                out.print(Text(f"{projection}: {len(found)} differences", style="bold red"))
                for line in found[:50]:
                    out.print(Text(f"  {line}"), soft_wrap=True)
            else:
                out.print(Text(f"{projection}: live and rebuilt agree", style="green"))
    if failed:
        raise typer.Exit(1)


def _chosen(runtime: Runtime, name: str) -> list[str]:
    if name == "all":
        return sorted(runtime.views.projections)
    return [runtime.views.projection(name).name]


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console(),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield step
