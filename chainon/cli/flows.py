"""Bot flows from a terminal: check a flow file before publishing it, publish it, list
what a brand has published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of

flows = typer.Typer(no_args_is_help=True, help="Bot flows: validate, publish, list.")
app.add_typer(flows, name="flows")

FlowFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A flow's YAML file.")
]


@flows.command("validate")
def flows_validate(file: FlowFile) -> None:
    """Check a flow file: each fault as FILE:LINE: field: message, exit 1 if any."""
    from chainon.flow_documents import FlowRefused, load

    try:
        document = load(file.read_text(encoding="utf-8"))
    except FlowRefused as exc:
        for refusal in exc.refusals:
            console(stderr=True).print(Text(f"{file}:{refusal}", style="red"), soft_wrap=True)
        raise typer.Exit(1) from None
    except UnicodeDecodeError:
        console(stderr=True).print(Text(f"{file}:1: flow: not UTF-8 text", style="red"))
        raise typer.Exit(1) from None
    console().print(
        Text(
            f"{file}: flow {document.name} is valid: {len(document.steps)} steps, "
            f"sha256 {document.digest()[:12]}",
            style="green",
        ),
        soft_wrap=True,
    )


@flows.command("publish")
def flows_publish(
    ctx: typer.Context,
    file: FlowFile,
    brand: Annotated[str, typer.Option("--brand", help="The brand's slug.")],
) -> None:
    """Publish a flow file as its next version (the same document again: no new one)."""
    from chainon import flows as published_flows

    with runtime_of(settings_of(ctx)) as runtime:
        owner = brand_of(runtime, brand)
        published, new = published_flows.publish(
            runtime.core, owner.id, file.read_text(encoding="utf-8")
        )
    said = "published as version" if new else "unchanged, still version"
    console().print(
        Text(f"Flow {published.name} {said} {published.version} ({published.sha256[:12]})"),
        style="green",
        soft_wrap=True,
    )


@flows.command("list")
def flows_list(
    ctx: typer.Context, brand: Annotated[str, typer.Option("--brand", help="The brand's slug.")]
) -> None:
    """The brand's flows, each at its latest version."""
    from chainon import flows as published_flows

    with runtime_of(settings_of(ctx)) as runtime:
        found = published_flows.listed(runtime.core, brand_of(runtime, brand).id)
    table = Table(box=box.SIMPLE)
    for column in ("name", "version", "hash", "published_at"):
        table.add_column(column)
    for f in found:
        at = f.published_at.isoformat(timespec="seconds")
        table.add_row(f.name, str(f.version), f.sha256[:12], at)
    console().print(table)
