"""Routing rules from a terminal: the brand's document shown, or set whole from a file
(``domain.routing_rules``), recorded with who set it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of
from chainon.cli.consent import read_document

routing = typer.Typer(no_args_is_help=True, help="Routing rules: which team takes a hand-off.")
app.add_typer(routing, name="routing")

BrandOption = Annotated[str, typer.Option(help="The brand's slug.")]


@routing.command("show")
def routing_show(ctx: typer.Context, brand: BrandOption) -> None:
    """The brand's routing rules and every change, with who made it."""
    from chainon.api.routing import routing_out
    from chainon.domain.brand import Brand

    with runtime_of(settings_of(ctx)) as runtime:
        shown = routing_out(runtime.core.get(Brand, brand_of(runtime, brand).id))
    console().print_json(shown.model_dump_json())


@routing.command("set")
def routing_set(
    ctx: typer.Context,
    brand: BrandOption,
    file: Annotated[
        Path,
        typer.Option("--file", exists=True, dir_okay=False, help="A JSON or YAML document."),
    ],
) -> None:
    """Sets the whole document from a file: the rules in order, the first that holds
    wins, and the `default` team."""
    import getpass

    from chainon.api.routing import routing_out
    from chainon.domain import commands as cmd
    from chainon.domain.brand import Brand
    from chainon.domain.routing_rules import RoutingRules

    document = RoutingRules.model_validate(read_document(file))
    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        actor = f"cli:{getpass.getuser()}"
        command = cmd.ConfigureRouting(brand_id=brand_id, rules=document, actor=actor)
        changed = runtime.core.handle(command).changed
        note = "routing changed" if changed else "routing unchanged (the same document)"
        console(stderr=True).print(Text(note, style="green" if changed else "yellow"))
        shown = routing_out(runtime.core.get(Brand, brand_id))
    console().print_json(shown.model_dump_json())
