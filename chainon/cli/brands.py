"""Brand administration from a terminal: register, list, API keys, provider routes; a send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from chainon.cli.base import (
    app,
    brand_of,
    brands,
    console,
    runtime_of,
    senders_of,
    settings_of,
    show_key,
)
from chainon.domain.channels import Channel
from chainon.domain.message_status import MessageStatus
from chainon.domain.purpose import Purpose

if TYPE_CHECKING:
    from chainon.runtime import Runtime


@brands.command("create")
def brands_create(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Lower-case letters, digits, inner hyphens.")],
    name: Annotated[str, typer.Option(help="The name consumers see.")],
    sms: Annotated[list[str] | None, typer.Option(help="An SMS sender number.")] = None,
    email: Annotated[list[str] | None, typer.Option(help="An email sender address.")] = None,
    rcs: Annotated[list[str] | None, typer.Option(help="An RCS agent id.")] = None,
    help_text: Annotated[str, typer.Option(help="The answer to HELP / AIDE.")] = "",
    smart_encoding: Annotated[
        bool, typer.Option(help="Replace look-alike characters when it saves SMS segments.")
    ] = False,
) -> None:
    """Register a brand with its sender addresses, and issue its first API key."""
    senders = [
        (channel, address)
        for channel, addresses in ((Channel.SMS, sms), (Channel.EMAIL, email), (Channel.RCS, rcs))
        for address in addresses or ()
    ]
    with runtime_of(settings_of(ctx), create=True) as runtime:
        brand = runtime.core.register_brand(
            slug=slug,
            name=name,
            senders=senders,
            help_text=help_text,
            smart_encoding=smart_encoding,
        )
        key = runtime.core.api_keys.issue(brand.id, "first")
        _audit_key(runtime, brand.id, "key.issued", key, {"label": "first"})
    out = console()
    out.print(Text(f"Brand {slug!r} registered: {brand.id}", style="green"))
    show_key(out, key)


def _audit_key(
    runtime: Runtime, brand_id: UUID, action: str, key: str, detail: dict[str, str] | None = None
) -> None:
    """The audit entry of a key (the key, or its id) issued or revoked on the host: the OS
    user is the actor. The key itself is never recorded, only its id."""
    from chainon.audit import Action, cli_actor
    from chainon.auth import split_api_key

    key_id = split_api_key(key) or key
    runtime.audit.record(brand_id, cli_actor(), Action(action), key_id, None, detail)


@brands.command("list")
def brands_list(ctx: typer.Context) -> None:
    """List the brands, their senders and how many API keys are active."""
    with runtime_of(settings_of(ctx)) as runtime:
        found = runtime.core.list_brands()
    table = Table(
        title=f"{len(found)} brand(s)", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    table.add_column("slug\nid", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("senders", overflow="fold")
    table.add_column("active\nkeys", justify="right")
    for brand in found:
        active = len(brand.api_keys) - len(brand.revoked_keys)
        senders = Text(senders_of(brand, "\n"))
        table.add_row(f"{brand.slug}\n{brand.id}", Text(brand.name), senders, str(active))
    console().print(table)


_DURATION = re.compile(r"^([1-9][0-9]{0,5})([dhm])$")
_UNIT = {"d": "days", "h": "hours", "m": "minutes"}


def _expiry(expires_in: str | None, expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        raise typer.BadParameter("give --expires-in or --expires-at, not both")
    if expires_at is not None:
        # a date or time without a zone is read as UTC, the zone every timestamp here is in
        return expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    if expires_in is None:
        return None
    found = _DURATION.match(expires_in)
    if found is None:
        raise typer.BadParameter(
            f"{expires_in!r}: a number of days, hours or minutes (30d, 12h, 90m)",
            param_hint="--expires-in",
        )
    return now + timedelta(**{_UNIT[found[2]]: int(found[1])})


@brands.command("keys")
def brands_keys(
    ctx: typer.Context,
    slug: str,
    issue: Annotated[str | None, typer.Option(metavar="LABEL", help="Issue a key.")] = None,
    revoke: Annotated[str | None, typer.Option(metavar="KEY_ID", help="Revoke a key.")] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="The issued key expires after 30d, 12h, 90m..."),
    ] = None,
    expires_at: Annotated[
        datetime | None,
        typer.Option(metavar="WHEN", help="The issued key expires then (UTC unless given)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SCOPE",
            help="What the issued key may do (repeat): messages:send, conversations:read, "
            "conversations:write, contacts:read, contacts:write, analytics:read, admin "
            "(the default; implies all).",
        ),
    ] = None,
) -> None:
    """List a brand's API keys (with their scopes and when each was last used); issue or
    revoke one."""
    from chainon.domain.brand import Brand

    if issue is None and (expires_in is not None or expires_at is not None):
        raise typer.BadParameter("an expiry is given with --issue", param_hint="--expires-in")
    if issue is None and scope:
        raise typer.BadParameter("scopes are given with --issue", param_hint="--scope")
    out = console()
    with runtime_of(settings_of(ctx)) as runtime:
        brand = brand_of(runtime, slug)
        if issue is not None:
            expiry = _expiry(expires_in, expires_at, runtime.core.clock())
            scopes = tuple(scope) if scope else ("admin",)
            key = runtime.core.api_keys.issue(brand.id, issue, expiry, scopes)
            _audit_key(
                runtime, brand.id, "key.issued", key, {"label": issue, "scopes": " ".join(scopes)}
            )
            show_key(out, key)
            if expiry is not None:
                out.print(f"It expires at {expiry.isoformat(timespec='seconds')}.")
        if revoke is not None:
            runtime.core.api_keys.revoke(brand.id, revoke)
            _audit_key(runtime, brand.id, "key.revoked", revoke)
            out.print(Text(f"Key {revoke} revoked.", style="green"))
        brand = runtime.core.get(Brand, brand.id)
        used = runtime.key_usage.last_used(brand.api_keys)
        now = runtime.core.clock()
    table = Table(title=f"API keys of {slug}")
    for column in ("id", "label", "revoked", "expires", "last used", "scopes"):
        table.add_column(column)
    for key_id, (_, label) in brand.api_keys.items():
        expiry = brand.key_expiry.get(key_id)
        expires = "never" if expiry is None else expiry.isoformat(timespec="minutes")
        if expiry is not None and expiry <= now:
            expires += " (expired)"
        last = used.get(key_id)
        agent = brand.key_agents.get(key_id)
        may = f"agent {agent}" if agent else " ".join(brand.key_scopes.get(key_id, ("admin",)))
        table.add_row(
            key_id,
            Text(label),
            "yes" if key_id in brand.revoked_keys else "no",
            expires,
            "never" if last is None else last.isoformat(timespec="minutes"),
            Text(may),
        )
    out.print(table)


@brands.command("route")
def brands_route(
    ctx: typer.Context,
    slug: str,
    channel: Annotated[Channel, typer.Option(help="The sender's channel.")],
    address: Annotated[str, typer.Option(help="One of the brand's sender addresses.")],
    provider: Annotated[str, typer.Option(help="'sandbox', 'smtp', 'rcs', 'smpp:<link>'.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Route to a link not configured here yet (staged ahead of a deploy)."
        ),
    ] = False,
) -> None:
    """Send a sender address's messages through a provider link this deployment runs."""
    from chainon.runtime import provider_links

    settings = settings_of(ctx)
    links = provider_links(settings)
    with runtime_of(settings) as runtime:
        brand = runtime.core.route_sender(
            brand_of(runtime, slug).id, channel, address, provider, None if force else links
        )
    out = console()
    routes = ", ".join(f"{c.value} {a} → {p}" for (c, a), p in sorted(brand.routes.items()))
    out.print(Text(f"Routes of {slug}: {routes}", style="green"), soft_wrap=True)
    if provider not in links:
        staged = f"{provider} is not configured here: its messages fail until it is"
        out.print(Text(staged, style="yellow"))


@app.command()
def send(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    to: Annotated[str, typer.Option(help="A phone number or an email address.")],
    body: Annotated[str, typer.Option(help="The message text.")],
    channel: Annotated[Channel | None, typer.Option(help="Default: the brand's order.")] = None,
    purpose: Annotated[Purpose, typer.Option(help="Why it is sent.")] = Purpose.SERVICE,
    not_after: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
            help="Marketing held by quiet hours past this (aware) time is blocked instead.",
        ),
    ] = None,
) -> None:
    """Queue a message; a running `chainon serve` dispatches it. The send policy may defer
    it (quiet hours) or block it (consent, or quiet hours past --not-after): the answer
    says which, and why."""
    from chainon.domain import commands as cmd

    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        outcome = runtime.core.handle(
            cmd.SendMessage(
                brand_id=brand_id,
                to=to,
                body=body,
                channel=channel,
                purpose=purpose,
                not_after=not_after,
            )
        )
    out = console()
    out.print(f"conversation {outcome.conversation_id}")
    out.print(f"message      {outcome.message_id}")
    if outcome.status is MessageStatus.BLOCKED:
        out.print(Text(f"blocked: {outcome.reason}", style="bold red"))
    elif outcome.status is MessageStatus.DEFERRED and outcome.release_at is not None:
        when = outcome.release_at.isoformat(timespec="minutes")
        out.print(Text(f"deferred until {when} (quiet hours)", style="yellow"))
    else:
        out.print(Text("queued; `chainon serve` dispatches it", style="yellow"))
