"""Operating the embedded default: an online backup of its data directory, and a restore.

See ``chainon.backup`` for why the files are copied in the order they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from chainon.cli.base import app, console, settings_of


@app.command("backup")
def backup_command(
    ctx: typer.Context,
    target: Annotated[Path, typer.Argument(help="A new (or empty) directory for the copy.")],
) -> None:
    """Copy the data directory while Chainon serves; the copy is a data directory itself."""
    from chainon.backup import backup

    done = backup(settings_of(ctx), target)
    out = console()
    out.print(Text(f"backed up to {done.target}: {', '.join(done.files)}", style="green"))
    if done.relay_position is not None:
        out.print(f"the restored relay resumes after event {done.relay_position}")


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A directory `chainon backup` wrote.")],
) -> None:
    """Copy a backup into CHAINON_DATA_DIR (or --data-dir), which must be new or empty."""
    from chainon.backup import restore

    settings = settings_of(ctx)
    copied = restore(source, settings.data_dir)
    console().print(Text(f"restored {', '.join(copied)} into {settings.data_dir}", style="green"))
    console().print("start Chainon on it; `chainon projections verify all` checks the views")


@app.command("migrate")
def migrate_command(ctx: typer.Context) -> None:
    """Bring the store's layout forward to this version (every role also does it at start);
    a store a newer Chainon wrote is refused."""
    from chainon.event_store import check_store
    from chainon.store_schema import migrate

    settings = settings_of(ctx)
    check_store(settings, create=False)
    done = migrate(settings)
    out = console()
    if not done.steps:
        out.print(f"the store's layout is {done.after}, this version's: nothing to do")
        return
    for step in done.steps:
        out.print(f"  {step}")
    out.print(Text(f"store layout {done.before} → {done.after}", style="green"))
