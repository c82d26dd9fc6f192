"""``chainon audit``: the brand's audit log on the host, as ``GET /v1/audit`` gives it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of
from chainon.domain.errors import InvalidInput


def _time(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 time", field=field) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@app.command("audit")
def audit(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    actor: Annotated[
        str | None, typer.Option(help="key:<key id>, agent:<name>, cli:<user>…")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="conversation.read, key.issued, consent.changed…")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="ISO 8601, included (UTC unless given).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--to", help="ISO 8601, included (UTC unless given).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="The newest entries, at most.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array, as the API.")] = False,
) -> None:
    """Who did what with the brand's personal data, newest first."""
    from chainon.api.audit_log import AuditEntryOut
    from chainon.audit import Action, AuditFilter

    if action is not None and action not in set(Action):
        raise InvalidInput(f"is one of {', '.join(Action)}", field="action")
    where_since, where_until = _time(since, "from"), _time(until, "to")
    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        where = AuditFilter(brand_id, actor, action, where_since, where_until, limit=limit)
        found = [AuditEntryOut.of(entry) for entry in runtime.audit.entries(where)]
    out = console()
    if as_json:
        print(json.dumps([entry.model_dump(mode="json") for entry in found], indent=2))
        return
    table = Table(
        title=f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("at", "actor", "action", "subject", "request id", "detail"):
        table.add_column(column, overflow="fold")
    for entry in found:
        table.add_row(
            entry.at.isoformat(timespec="seconds"),
            Text(entry.actor),
            entry.action,
            entry.subject,
            entry.request_id or "",
            Text(json.dumps(entry.detail, ensure_ascii=False) if entry.detail else ""),
        )
    out.print(table)
