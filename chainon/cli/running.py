"""Commands that run Chainon: the API server, a worker role, the demo; and its contracts."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import tempfile
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from chainon.cli.base import (
    app,
    console,
    data_dir_of,
    runtime_of,
    schemas,
    senders_of,
    settings_of,
    show_key,
)
from chainon.errors import CannotStart, Unhealthy
from chainon.roles import Role

if TYPE_CHECKING:
    from rich.console import Console

    from chainon.demo import DemoKey


@app.command()
def version() -> None:
    """Print the installed version."""
    console().print(package_version("chainon"))


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

    from chainon import event_loop, process_tree
    from chainon.demo import ensure_demo_key
    from chainon.observability import configure_logging
    from chainon.settings import BusKind

    overrides = {
        name: value for name, value in (("host", host), ("port", port)) if value is not None
    }
    settings = settings_of(ctx, **overrides)
    configure_logging(
        settings.log_level, json=settings.log_json, personal_data=settings.log_personal_data
    )
    # Everything that can stop the start is checked before anything is issued or served:
    # the address, the store, the broker; each failure is one line naming its setting.
    _ensure_free(settings.host, settings.port)
    demo = None
    with runtime_of(settings, create=True) as runtime:
        if settings.bus is BusKind.KAFKA:
            event_loop.run(runtime.reach_bus())
        if settings.demo_brand:
            demo = ensure_demo_key(runtime.core, settings.data_dir)
    out = console()
    if demo is not None:
        _show_demo(out, demo)
    out.print(Text(f"Agent console: http://{settings.host}:{settings.port}/console", style="bold"))
    out.print(Text(f"API docs: http://{settings.host}:{settings.port}/docs", style="bold"))
    # The app factory reads its settings from the environment: give it the ones used here.
    os.environ["CHAINON_DATA_DIR"] = str(settings.data_dir)
    os.environ["CHAINON_HOST"] = settings.host
    os.environ["CHAINON_PORT"] = str(settings.port)
    # A stop asked (SIGTERM, which uvicorn raises again once it has shut down) is a clean
    # exit; a process tree that gave up on a child that kept dying is not.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(process_tree.exit_code()))
    uvicorn.run(
        "chainon.api.app:create_served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # uvicorn's lines go through Chainon's logging (JSON, rate-limited); requests are
        # logged by the app's middleware, with their request id.
        log_config=None,
        access_log=False,
    )


def _ensure_free(host: str, port: int) -> None:
    """Binds the address the way uvicorn will, and lets it go."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            raise CannotStart(
                f"{host}:{port} is in use ({reason}; another `chainon serve`?); "
                "--port chooses another",
                setting="CHAINON_PORT",
            ) from None
        raise CannotStart(
            f"cannot listen on {host}:{port} ({reason})", setting="CHAINON_HOST"
        ) from None


def _show_demo(out: Console, demo: DemoKey) -> None:
    brand = demo.brand
    out.print(Text(f"Demo brand {brand.slug!r} ({brand.name}): {senders_of(brand)}"))
    if demo.issued is not None:
        show_key(out, demo.issued)
        out.print(Text(f"  Authorization: Bearer {demo.issued}", style="dim"), soft_wrap=True)
        out.print(Text(f"Kept in {demo.path} (mode 0600); the next start issues no other."))
    else:
        out.print(Text(f"Its API key is in {demo.path}."), soft_wrap=True)
    another = f"`chainon brands keys {brand.slug} --issue LABEL` issues another"
    out.print(Text(another, style="dim"), soft_wrap=True)


@app.command()
def worker(
    ctx: typer.Context,
    role: Annotated[Role, typer.Argument(help="core, relay, dispatch, views or webhooks.")],
) -> None:
    """Run one worker role in this process, until SIGTERM (distributed mode).

    Health and metrics are served on CHAINON_WORKER_PORT when it is set.
    """
    from chainon import event_loop
    from chainon.observability import configure_logging
    from chainon.worker_process import run_worker

    settings = settings_of(ctx)
    configure_logging(
        settings.log_level, json=settings.log_json, personal_data=settings.log_personal_data
    )
    event_loop.run(run_worker(settings, role))


@app.command(hidden=True, name="embedded-child")
def embedded_child(
    ctx: typer.Context,
    roles: Annotated[list[Role], typer.Argument(help="The roles the parent gave this child.")],
    parent: Annotated[int, typer.Option(help="The parent's process id.")],
    ready_fd: Annotated[int, typer.Option(help="Written once the roles run.")],
    wake_fd: Annotated[int, typer.Option(help="A byte on it: the parent saved.")],
    metrics_fd: Annotated[int, typer.Option(help="The parent asks for the metrics on it.")],
) -> None:
    """A child of `chainon serve` (embedded mode): the stages that follow the store."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent orders the stop (SIGTERM)
    from chainon import event_loop
    from chainon.observability import configure_logging
    from chainon.worker_process import Parent, run_roles

    settings = settings_of(ctx)
    configure_logging(
        settings.log_level, json=settings.log_json, personal_data=settings.log_personal_data
    )
    tree = Parent(pid=parent, ready_fd=ready_fd, wake_fd=wake_fd, metrics_fd=metrics_fd)
    event_loop.run(run_roles(settings, frozenset(roles), parent=tree))


@app.command()
def healthcheck(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the answer.")] = 3.0,
) -> None:
    """Exit 0 when this machine's Chainon answers /healthz (a container's HEALTHCHECK).

    Asks a worker's port (CHAINON_WORKER_PORT) when one is set, else the API's
    (CHAINON_PORT): one image serves every role, and the role's settings say where it listens.
    """
    import urllib.error
    import urllib.request

    settings = settings_of(ctx)
    port = settings.worker_port or settings.port
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            status = answer.status
    except (urllib.error.URLError, OSError) as exc:
        raise Unhealthy(f"no answer from {url}: {getattr(exc, 'reason', exc)}") from None
    if status != 200:
        raise Unhealthy(f"{url} answered {status}")
    console().print(f"healthy: {url}")


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

    text = json.dumps(document(Topics(settings_of(ctx).topic_prefix)), indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n")
        console().print(Text(f"AsyncAPI document written to {output}"))


@app.command()
def demo(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="An empty directory to keep; default: a temporary one, never ./var."),
    ] = None,
) -> None:
    """Tell the two-minute story: a consumer writes, an agent answers, it is resolved."""
    from chainon import event_loop
    from chainon.demo import story_settings, tell_story
    from chainon.observability import configure_logging

    chosen = data_dir or data_dir_of(ctx)
    out = console()
    with tempfile.TemporaryDirectory(prefix="chainon-demo-") as scratch:
        settings = story_settings(chosen or Path(scratch))
        configure_logging(
            "WARNING", json=settings.log_json, personal_data=settings.log_personal_data
        )
        where = str(chosen) if chosen else "a temporary directory (--data-dir keeps it)"
        out.print(Text(f"Chainon demo, in {where}\n", style="dim"))
        event_loop.run(tell_story(settings, out))
