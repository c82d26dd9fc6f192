"""The ``chainon`` command's shared plumbing: the root group, settings, runtime, brand lookup.

Each command opens its own runtime on the configured store and closes it when done;
only ``serve`` and ``demo`` run the loop that dispatches messages and takes receipts.
Refusals are mapped to one red line in one place, ``Commands.invoke``, never a traceback.
What a command needs is imported when it runs: ``chainon version`` or ``--help`` load
neither the store nor the web framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from chainon.domain import ids
from chainon.domain.errors import DomainError, InvalidInput, NotFound
from chainon.errors import CannotStart, OperatorError

if TYPE_CHECKING:
    from chainon.domain.brand import Brand
    from chainon.runtime import Runtime
    from chainon.settings import Settings


class Commands(TyperGroup):
    """The root group: every expected refusal becomes ``error: …`` on stderr and exit 1."""

    def invoke(self, ctx: Any) -> Any:  # typer's base Context (vendored click) is private
        try:
            return super().invoke(ctx)
        except (DomainError, ValidationError, OperatorError) as exc:
            line = " ".join(f"error: {describe(exc)}".splitlines())
            console(stderr=True).print(Text(line, style="bold red"), soft_wrap=True)
            raise typer.Exit(1) from None


def describe(exc: DomainError | ValidationError | OperatorError) -> str:
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


def _show_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        console().print(version("chainon"))
        raise typer.Exit()


@app.callback()
def root(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the embedded store lives (CHAINON_DATA_DIR).")
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Options every command shares; each command reads them from the root context."""


# Plumbing shared by the commands


def console(*, stderr: bool = False) -> Console:
    # Built per use, so that the width and the streams are those of this invocation.
    return Console(stderr=stderr, highlight=False)


def data_dir_of(ctx: typer.Context) -> Path | None:
    data_dir: Path | None = ctx.find_root().params.get("data_dir")
    return data_dir


def settings_of(ctx: typer.Context, **overrides: Any) -> Settings:
    """Settings from CHAINON_* with the command line's overrides; logs quiet by default."""
    from pydantic_settings import SettingsError

    from chainon.observability import configure_logging
    from chainon.settings import Settings

    if (data_dir := data_dir_of(ctx)) is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CHAINON_" + "_".join(map(str, first["loc"])).upper()
        raise InvalidInput(first["msg"].removeprefix("Value error, "), field=name) from None
    except SettingsError as exc:
        # pydantic-settings names the field in prose; the operator sets the variable.
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"CHAINON_{field.group(1).upper()}" if field else "CHAINON_*"
        raise CannotStart(f"cannot be read: {exc.__cause__ or exc}", setting=name) from None
    configure_logging("WARNING", json=settings.log_json, personal_data=settings.log_personal_data)
    return settings


@contextmanager
def runtime_of(settings: Settings, *, create: bool = False) -> Iterator[Runtime]:
    """A runtime on the configured store; one that does not exist is refused unless
    ``create`` (a mistyped directory must not become an empty store)."""
    from chainon.runtime import Runtime

    runtime = Runtime(settings, create=create)
    try:
        yield runtime
    finally:
        runtime.close()


def brand_of(runtime: Runtime, slug: str) -> Brand:
    from chainon.domain.brand import Brand

    brand = runtime.core.find(Brand, ids.brand_id(slug))
    if brand is None:
        raise NotFound(f"no brand {slug!r} (`chainon brands list` shows them)", field="brand")
    return brand


def senders_of(brand: Brand, separator: str = "; ") -> str:
    return separator.join(f"{ch.value} {', '.join(addr)}" for ch, addr in brand.senders.items())


def show_key(out: Console, key: str) -> None:
    # Never wrapped: the key must survive a copy and paste.
    out.print(Text("API key, shown once: ").append(key, style="bold"), soft_wrap=True)
