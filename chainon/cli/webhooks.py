"""A brand's webhook endpoints from a terminal: add (the secret shown once), list, remove,
rotate the secret (the old one keeps working for 24 h)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of

webhooks = typer.Typer(no_args_is_help=True, help="Signed webhooks to the brand's own systems.")
app.add_typer(webhooks, name="webhooks")

Brand = Annotated[str, typer.Option("--brand", help="The brand's slug.")]
EndpointId = Annotated[UUID, typer.Argument(help="The endpoint's id (`chainon webhooks list`).")]


def show_secret(secret: str) -> None:
    # Never wrapped: the secret must survive a copy and paste.
    console().print(Text("Secret, shown once: ").append(secret, style="bold"), soft_wrap=True)


@webhooks.command("add")
def webhooks_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="https URL of the brand's receiver.")],
    brand: Brand,
    event: Annotated[
        list[str] | None,
        typer.Option(help="An event type (repeat); default: every one."),
    ] = None,
    description: Annotated[str, typer.Option(help="What receives them.")] = "",
) -> None:
    """Add an endpoint; its signing secret is shown once."""
    import asyncio

    from chainon.domain.webhooks import EVENT_TYPES
    from chainon.webhooks import endpoints, ssrf

    settings = settings_of(ctx)
    allow = settings.webhooks_allow_private
    asyncio.run(ssrf.check_input(url, allow_private=allow))
    with runtime_of(settings) as runtime:
        owner = brand_of(runtime, brand)
        made = endpoints.add(
            runtime.core,
            owner.id,
            url,
            event or list(EVENT_TYPES),
            description,
            allow_private=allow,
            box=runtime.secrets,
        )
    console().print(Text(f"Endpoint {made.id} added: {', '.join(made.events)}", style="green"))
    show_secret(made.secret)


@webhooks.command("list")
def webhooks_list(ctx: typer.Context, brand: Brand) -> None:
    """The brand's endpoints (never their secrets)."""
    from chainon.webhooks import endpoints

    with runtime_of(settings_of(ctx)) as runtime:
        found = endpoints.listed(runtime.core, brand_of(runtime, brand).id)
    table = Table(box=box.SIMPLE)
    for column in ("id", "url", "events", "enabled", "description"):
        table.add_column(column)
    for e in found:
        enabled = "yes" if e.enabled else f"no ({e.disabled_reason or 'by the brand'})"
        table.add_row(str(e.id), e.url, ", ".join(e.events), enabled, e.description)
    console().print(table)


@webhooks.command("rm")
def webhooks_rm(ctx: typer.Context, endpoint_id: EndpointId, brand: Brand) -> None:
    """Remove an endpoint: nothing more is sent to it."""
    from chainon.webhooks import endpoints

    with runtime_of(settings_of(ctx)) as runtime:
        endpoints.remove(runtime.core, brand_of(runtime, brand).id, endpoint_id)
    console().print(Text(f"Endpoint {endpoint_id} removed", style="green"))


@webhooks.command("rotate")
def webhooks_rotate(ctx: typer.Context, endpoint_id: EndpointId, brand: Brand) -> None:
    """A new signing secret; the old one keeps signing too for 24 h."""
    from chainon.webhooks import endpoints

    with runtime_of(settings_of(ctx)) as runtime:
        e = endpoints.rotate(
            runtime.core, brand_of(runtime, brand).id, endpoint_id, box=runtime.secrets
        )
    until = e.previous_valid_until.isoformat(timespec="seconds") if e.previous_valid_until else ""
    console().print(Text(f"Secret rotated; the previous one is valid until {until}"))
    show_secret(e.secret)
