"""The ``chainon`` command: serve the API, manage brands, send, read conversations, demo.

Each command opens its own runtime on the configured store and closes it when done;
only ``serve`` and ``demo`` run the loop that dispatches messages and takes receipts.
Refusals are mapped to one red line in one place, ``Commands.invoke``, never a traceback.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from chainon import event_loop, timeline
from chainon.demo import DemoFailed, ensure_demo_brand, story_settings, tell_story
from chainon.observability import configure_logging
from chainon.runtime import Role, Runtime
from chainon.settings import Settings
from domain import commands as cmd
from domain import ids
from domain.brand import Brand
from domain.channels import Channel
from domain.contact import Contact
from domain.conversation import Conversation, normalise_tag
from domain.errors import DomainError, InvalidInput, NotFound
from projections.conversation_list import ConversationFilter, search
from projections.rebuild import rebuild_many, verify


class Commands(TyperGroup):
    """The root group: every expected refusal becomes ``error: …`` on stderr and exit 1."""

    def invoke(self, ctx: Any) -> Any:  # typer's base Context (vendored click) is private
        try:
            return super().invoke(ctx)
        except (DomainError, ValidationError, DemoFailed) as exc:
            line = " ".join(f"error: {describe(exc)}".splitlines())
            _console(stderr=True).print(Text(line, style="bold red"), soft_wrap=True)
            raise typer.Exit(1) from None


def describe(exc: DomainError | ValidationError | DemoFailed) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.field}: {exc.detail}" if exc.field else exc.detail
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        )
    return str(exc)


app = typer.Typer(
    cls=Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold API keys
    help="Chainon: two-way conversations between brands and consumers (SMS, RCS, email).",
)
brands = typer.Typer(no_args_is_help=True, help="Register brands and manage their API keys.")
conversations = typer.Typer(no_args_is_help=True, help="List and read conversations.")
app.add_typer(brands, name="brands")
app.add_typer(conversations, name="conversations")
schemas = typer.Typer(no_args_is_help=True, help="The contract of Chainon's Kafka topics.")
projections_app = typer.Typer(no_args_is_help=True, help="Read models: status, rebuild, verify.")
app.add_typer(projections_app, name="projections")
app.add_typer(schemas, name="schemas")


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@app.callback()
def root(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the embedded store lives (CHAINON_DATA_DIR).")
    ] = None,
) -> None:
    """Options every command shares; each command reads them from the root context."""


def main() -> None:
    app()


# Plumbing shared by the commands


def _console(*, stderr: bool = False) -> Console:
    # Built per use, so that the width and the streams are those of this invocation.
    return Console(stderr=stderr, highlight=False)


def _data_dir(ctx: typer.Context) -> Path | None:
    data_dir: Path | None = ctx.find_root().params.get("data_dir")
    return data_dir


def _settings(ctx: typer.Context, **overrides: Any) -> Settings:
    """Settings from CHAINON_* with the command line's overrides; logs quiet by default."""
    if (data_dir := _data_dir(ctx)) is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CHAINON_" + "_".join(map(str, first["loc"])).upper()
        raise InvalidInput(first["msg"], field=name) from None
    configure_logging("WARNING", json=settings.log_json)
    return settings


@contextmanager
def _runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()


def _brand(runtime: Runtime, slug: str) -> Brand:
    brand = runtime.core.find(Brand, ids.brand_id(slug))
    if brand is None:
        raise NotFound(f"no brand {slug!r} (`chainon brands list` shows them)", field="brand")
    return brand


# Commands


@app.command()
def version() -> None:
    """Print the installed version."""
    _console().print(package_version("chainon"))


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Default: CHAINON_HOST.")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Default: CHAINON_PORT.")
    ] = None,
) -> None:
    """Run the HTTP API (and, in the embedded mode, every worker) in this process."""
    import uvicorn  # only this command needs the server

    overrides = {
        name: value for name, value in (("host", host), ("port", port)) if value is not None
    }
    settings = _settings(ctx, **overrides)
    configure_logging(settings.log_level, json=settings.log_json)
    out = _console()
    if settings.demo_brand:
        with _runtime(settings) as runtime:
            brand, key = ensure_demo_brand(runtime.core)
        out.print(Text(f"Demo brand {brand.slug!r} ({brand.name}): {_senders(brand)}"))
        _show_key(out, key)
        out.print(Text(f"  Authorization: Bearer {key}", style="dim"), soft_wrap=True)
    out.print(Text(f"API docs: http://{settings.host}:{settings.port}/docs", style="bold"))
    # The app factory reads its settings from the environment: give it the ones used here.
    os.environ["CHAINON_DATA_DIR"] = str(settings.data_dir)
    os.environ["CHAINON_HOST"] = settings.host
    os.environ["CHAINON_PORT"] = str(settings.port)
    uvicorn.run(
        "chainon.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
    )


@app.command()
def worker(
    ctx: typer.Context,
    role: Annotated[Role, typer.Argument(help="core, relay, dispatch or views.")],
) -> None:
    """Run one worker role in this process, until SIGTERM (distributed mode).

    Health and metrics are served on CHAINON_WORKER_PORT when it is set.
    """
    from chainon.worker_process import run_worker

    settings = _settings(ctx)
    configure_logging(settings.log_level, json=settings.log_json)
    event_loop.run(run_worker(settings, role))


@app.command(
    hidden=True,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench() -> None:
    """Where the benchmarks went: they run from a source checkout, the wheel does not ship them."""
    typer.echo(
        "chainon bench is gone: run `make bench` or `python -m bench` from a source checkout",
        err=True,
    )
    raise typer.Exit(2)


@schemas.command("export")
def schemas_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the AsyncAPI document of Chainon's topics, generated from the record models."""
    import json

    from chainon.asyncapi import document
    from chainon.topics import Topics

    text = json.dumps(document(Topics(_settings(ctx).topic_prefix)), indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n")
        _console().print(Text(f"AsyncAPI document written to {output}"))


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
    with _runtime(_settings(ctx)) as runtime:
        brand = runtime.core.register_brand(
            slug=slug,
            name=name,
            senders=senders,
            help_text=help_text,
            smart_encoding=smart_encoding,
        )
        key = runtime.core.api_keys.issue(brand.id, "first")
    out = _console()
    out.print(Text(f"Brand {slug!r} registered: {brand.id}", style="green"))
    _show_key(out, key)


@brands.command("list")
def brands_list(ctx: typer.Context) -> None:
    """List the brands, their senders and how many API keys are active."""
    with _runtime(_settings(ctx)) as runtime:
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
        senders = Text(_senders(brand, "\n"))
        table.add_row(f"{brand.slug}\n{brand.id}", Text(brand.name), senders, str(active))
    _console().print(table)


@brands.command("keys")
def brands_keys(
    ctx: typer.Context,
    slug: str,
    issue: Annotated[str | None, typer.Option(metavar="LABEL", help="Issue a key.")] = None,
    revoke: Annotated[str | None, typer.Option(metavar="KEY_ID", help="Revoke a key.")] = None,
) -> None:
    """List a brand's API keys; issue or revoke one."""
    out = _console()
    with _runtime(_settings(ctx)) as runtime:
        brand = _brand(runtime, slug)
        if issue is not None:
            key = runtime.core.api_keys.issue(brand.id, issue)
            _show_key(out, key)
        if revoke is not None:
            runtime.core.api_keys.revoke(brand.id, revoke)
            out.print(Text(f"Key {revoke} revoked.", style="green"))
        brand = runtime.core.get(Brand, brand.id)
    table = Table(title=f"API keys of {slug}")
    for column in ("id", "label", "revoked"):
        table.add_column(column)
    for key_id, (_, label) in brand.api_keys.items():
        table.add_row(key_id, Text(label), "yes" if key_id in brand.revoked_keys else "no")
    out.print(table)


@brands.command("route")
def brands_route(
    ctx: typer.Context,
    slug: str,
    channel: Annotated[Channel, typer.Option(help="The sender's channel.")],
    address: Annotated[str, typer.Option(help="One of the brand's sender addresses.")],
    provider: Annotated[str, typer.Option(help="'sandbox', 'smpp:<link>', 'smtp:<relay>'.")],
) -> None:
    """Send a sender address's messages through a provider link."""
    with _runtime(_settings(ctx)) as runtime:
        brand = runtime.core.route_sender(_brand(runtime, slug).id, channel, address, provider)
    routes = ", ".join(f"{c.value} {a} → {p}" for (c, a), p in sorted(brand.routes.items()))
    _console().print(Text(f"Routes of {slug}: {routes}", style="green"), soft_wrap=True)


@app.command()
def send(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    to: Annotated[str, typer.Option(help="A phone number or an email address.")],
    body: Annotated[str, typer.Option(help="The message text.")],
    channel: Annotated[Channel | None, typer.Option(help="Default: the brand's order.")] = None,
) -> None:
    """Queue a message; a running `chainon serve` dispatches it."""
    with _runtime(_settings(ctx)) as runtime:
        brand_id = _brand(runtime, brand).id
        outcome = runtime.core.handle(
            cmd.SendMessage(brand_id=brand_id, to=to, body=body, channel=channel)
        )
    out = _console()
    out.print(f"conversation {outcome.conversation_id}")
    out.print(f"message      {outcome.message_id}")
    out.print(Text("queued; `chainon serve` dispatches it", style="yellow"))


@conversations.command("list")
def conversations_list(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    status: Annotated[Status | None, typer.Option()] = None,
    agent: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """List a brand's conversations, latest activity first."""
    with _runtime(_settings(ctx)) as runtime:
        brand_id = _brand(runtime, brand).id
        # No server loop runs here: bring the view up to date before reading it.
        runtime.views.run_until_idle()
        where = ConversationFilter(
            brand_id=brand_id,
            status=status.value if status else None,
            agent=agent,
            tag=normalise_tag(tag) if tag is not None else None,
            limit=limit,
        )
        rows = search(runtime.views.store, where)
        contacts = {
            contact_id: str(runtime.core.get(Contact, contact_id).addresses[0])
            for contact_id in {row.contact_id for row in rows}
        }
    _console().print(timeline.conversation_list(rows, contacts))


@conversations.command("show")
def conversations_show(
    ctx: typer.Context,
    conversation_id: Annotated[UUID, typer.Argument(metavar="CONVERSATION_ID")],
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
            help="Show it as it stood then (UTC).",
        ),
    ] = None,
) -> None:
    """Show a conversation's timeline: messages with their status history, and handling."""
    with _runtime(_settings(ctx)) as runtime:
        found = _brand(runtime, brand)
        conversation = runtime.core.conversation_of(found.id, conversation_id)
        contact = runtime.core.get(Contact, conversation.contact_id)
        events = list(runtime.core.events.get(conversation_id))
    if as_of is not None:
        conversation, events = _as_of(events, as_of.replace(tzinfo=as_of.tzinfo or UTC))
    view = timeline.timeline(
        conversation, events, brand=found.name, contact=str(contact.addresses[0])
    )
    _console().print(view)


def _as_of(events: list[Any], moment: datetime) -> tuple[Conversation, list[Any]]:
    """The conversation replayed from its events up to ``moment``: event sourcing's
    time travel, for "what did the agent see when they answered?"."""
    kept = [e for e in events if e.timestamp <= moment]
    if not kept:
        raise InvalidInput(
            f"the conversation did not exist yet at {moment:%Y-%m-%d %H:%M:%S}", field="as-of"
        )
    state = None
    for event in kept:
        state = event.mutate(state)
    assert isinstance(state, Conversation)
    return state, kept


@projections_app.command("status")
def projections_status(ctx: typer.Context) -> None:
    """Each read model's position, the store's head, and the lag between them."""
    with _runtime(_settings(ctx)) as runtime:
        rows = runtime.views.status()
    table = Table("projection", "position", "head", "lag", box=box.SIMPLE)
    for row in rows:
        lag = Text(str(row.lag), style="green" if row.lag == 0 else "yellow")
        table.add_row(row.name, str(row.position), str(row.head), lag)
    _console().print(table)


@projections_app.command("rebuild")
def projections_rebuild(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A projection, or 'all'.")],
) -> None:
    """Rebuild from the first event into shadow tables, then swap them in (the API keeps
    serving the old ones meanwhile)."""
    with _runtime(_settings(ctx)) as runtime:
        chosen = _chosen(runtime, name)
        started = time.perf_counter()
        with _progress(f"rebuilding {', '.join(chosen)}") as step:
            read = rebuild_many(runtime.views, chosen, step)  # one pass for them all
        elapsed = time.perf_counter() - started
        rate = read / elapsed if elapsed > 0 else 0.0
        _console().print(
            Text(f"{', '.join(chosen)}: {read} events in {elapsed:.1f} s ({rate:,.0f} events/s)")
        )


@projections_app.command("verify")
def projections_verify(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A projection, or 'all'.")],
) -> None:
    """Rebuild in a shadow and compare with the live model; exits 1 on any difference."""
    out = _console()
    failed = False
    with _runtime(_settings(ctx)) as runtime:
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
        console=_console(),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield step


@app.command()
def demo(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="An empty directory to keep; default: a temporary one, never ./var."),
    ] = None,
) -> None:
    """Tell the two-minute story: a consumer writes, an agent answers, it is resolved."""
    chosen = data_dir or _data_dir(ctx)
    out = _console()
    with tempfile.TemporaryDirectory(prefix="chainon-demo-") as scratch:
        settings = story_settings(chosen or Path(scratch))
        configure_logging("WARNING", json=settings.log_json)
        where = str(chosen) if chosen else "a temporary directory (--data-dir keeps it)"
        out.print(Text(f"Chainon demo, in {where}\n", style="dim"))
        event_loop.run(tell_story(settings, out))


def _senders(brand: Brand, separator: str = "; ") -> str:
    return separator.join(f"{ch.value} {', '.join(addr)}" for ch, addr in brand.senders.items())


def _show_key(out: Console, key: str) -> None:
    # Never wrapped: the key must survive a copy and paste.
    out.print(Text("API key, shown once: ").append(key, style="bold"), soft_wrap=True)


if __name__ == "__main__":
    main()
