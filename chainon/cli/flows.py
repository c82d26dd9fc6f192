"""Bot flows from a terminal: check a flow file before publishing it, publish it, list
what a brand has published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from chainon.cli.base import app, console

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
