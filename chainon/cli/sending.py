"""Sending limits from a terminal: the brand's SMS-pumping and flood thresholds
(``limits``), the number prefixes its guard blocked (``blocks``), and an admin's lift
(``lift``), recorded with who lifted it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of
from chainon.cli.consent import read_document

sending = typer.Typer(no_args_is_help=True, help="Sending limits: SMS pumping, inbound floods.")
app.add_typer(sending, name="sending")


@sending.command("limits")
def sending_limits(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", exists=True, dir_okay=False, help="Set from this JSON or YAML document."
        ),
    ] = None,
) -> None:
    """The brand's sending limits, or set them whole from a file: what it leaves out takes
    the default."""
    import getpass

    from chainon.api.sending_limits import limits_out
    from chainon.domain import commands as cmd
    from chainon.domain.brand import Brand
    from chainon.domain.sending_limits import SendingLimits

    document = SendingLimits.model_validate(read_document(file)) if file else None
    with runtime_of(settings_of(ctx)) as runtime:
        core = runtime.core
        brand_id = brand_of(runtime, brand).id
        if document is not None:
            actor = f"cli:{getpass.getuser()}"
            command = cmd.ConfigureSendingLimits(brand_id=brand_id, limits=document, actor=actor)
            changed = core.handle(command).changed
            note = "limits changed" if changed else "limits unchanged (the same document)"
            console(stderr=True).print(Text(note, style="green" if changed else "yellow"))
        shown = limits_out(core.get(Brand, brand_id))
    console().print_json(shown.model_dump_json())


@sending.command("blocks")
def sending_blocks(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
) -> None:
    """The number prefixes blocked after a spike, and every lift so far."""
    from chainon.api.sending_limits import blocks_out
    from chainon.domain import ids
    from chainon.domain.destination_blocks import DestinationBlocks

    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        found = runtime.core.find(DestinationBlocks, ids.destination_blocks_id(brand_id))
    console().print_json(blocks_out(found).model_dump_json())


@sending.command("lift")
def sending_lift(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="The blocked prefix, e.g. +3361234.")],
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
) -> None:
    """Lets sends to a blocked prefix go again; the lift is recorded with who asked."""
    import getpass

    from chainon.domain import commands as cmd

    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        actor = f"cli:{getpass.getuser()}"
        runtime.core.handle(cmd.LiftDestinationBlock(brand_id=brand_id, prefix=prefix, actor=actor))
    console().print(Text(f"{prefix} lifted", style="green"))
