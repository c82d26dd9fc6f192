"""Consent from a terminal: the evidence of every change, for a regulator or a
data-subject request (``export``), opt-ins and opt-outs collected elsewhere (``import``),
and the opt-outs the detector was unsure of (``review``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of
from chainon.domain.errors import InvalidInput

if TYPE_CHECKING:  # the store's modules load when a command runs: `chainon version` stays light
    from chainon.core import Core
    from chainon.domain.consent import Consent
    from chainon.runtime import Runtime

consent = typer.Typer(no_args_is_help=True, help="Consent: the evidence of every change.")
app.add_typer(consent, name="consent")

PAGE = 500
COLUMNS = (
    "contact_id",
    "addresses",
    "at",
    "change",
    "purpose",
    "scope",
    "source",
    "text",
    "channel",
    "address",
    "actor",
    "rule",
    "message_id",
    "uncertain",
    "collected_at",
)


def ledgers(core: Core, brand_id: UUID) -> Iterator[Consent]:
    from chainon.domain.consent import Consent

    """Every consent ledger of the brand, in the order they were opened (the store's)."""
    start = 1
    while True:
        page = core.recorder.select_notifications(
            start=start, limit=PAGE, topics=[Consent.Opened.TOPIC]
        )
        for notification in page:
            ledger = core.find(Consent, UUID(str(notification.originator_id)))
            if ledger is not None and ledger.brand_id == brand_id:
                yield ledger
        if len(page) < PAGE:
            return
        start = page[-1].id + 1


def rows(core: Core, ledger: Consent) -> Iterator[dict[str, Any]]:
    from chainon.domain.contact import Contact

    contact = core.find(Contact, ledger.contact_id)
    addresses = " ".join(a.value for a in contact.addresses) if contact else ""
    for change in ledger.changes:
        e = change.evidence
        yield {
            "contact_id": str(ledger.contact_id),
            "addresses": addresses,
            "at": change.at.isoformat(),
            "change": "granted" if change.granted else "revoked",
            "purpose": change.purpose.value,
            "scope": change.channel.value if change.channel else "all_channels",
            "source": e.source.value,
            "text": e.text,
            "channel": e.channel.value if e.channel else "",
            "address": e.address,
            "actor": e.actor,
            "rule": e.rule,
            "message_id": str(e.message_id) if e.message_id else "",
            "uncertain": e.uncertain,
            "collected_at": e.collected_at.isoformat() if e.collected_at else "",
        }


def write(records: list[dict[str, Any]], out: Path) -> None:
    if out.suffix == ".json":
        out.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    with out.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(records)


@consent.command("export")
def export(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="out.csv or out.json")],
    contact: Annotated[UUID | None, typer.Option(help="One contact only.")] = None,
) -> None:
    """Every consent change of the brand's contacts with its evidence: source, time, the
    raw text or request, the channel and address it came on, who made it, the rule."""
    from chainon.domain import ids
    from chainon.domain.consent import Consent

    if output.suffix not in (".csv", ".json"):
        raise InvalidInput("must end in .csv or .json", field="output")
    with runtime_of(settings_of(ctx)) as runtime:
        core = runtime.core
        brand_id = brand_of(runtime, brand).id
        if contact is not None:
            core.contact_of(brand_id, contact)
            one = core.find(Consent, ids.consent_id(brand_id, contact))
            chosen: Iterator[Consent] = iter([one] if one is not None else [])
        else:
            chosen = ledgers(core, brand_id)
        records = [row for ledger in chosen for row in rows(core, ledger)]
        _audit_export(runtime, brand_id, contact, len(records))
    write(records, output)
    console().print(Text(f"{len(records)} change(s) written to {output}", style="green"))


@consent.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV.")],
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
) -> None:
    """Records the opt-ins and opt-outs of a CSV (columns address, purpose; optional
    status granted|revoked, channel, collected_at, text, country) with source `import`.
    Bad rows are reported by line; importing the same file again records nothing new."""
    from chainon.audit import Action, cli_actor
    from chainon.consent_import import import_consent

    actor = cli_actor()
    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        with file.open(encoding="utf-8", newline="") as source:
            report = import_consent(
                runtime.core.handle_many,
                brand_id,
                source,
                origin=file.name,
                actor=actor,
                region=runtime.settings.default_region,
            )
        detail = {"file": file.name, "granted": report.granted, "revoked": report.revoked}
        runtime.audit.record(brand_id, actor, Action.CONSENT_IMPORTED, "import", None, detail)
    out = console()
    out.print(
        f"{report.granted} granted, {report.revoked} revoked, {report.unchanged} unchanged, "
        f"{report.rejected} row(s) left out"
    )
    for bad in report.errors:
        out.print(Text(f"  line {bad.line}: {bad.reason}", style="yellow"))


def _audit_export(runtime: Runtime, brand_id: UUID, contact: UUID | None, count: int) -> None:
    """An export hands personal data out of Chainon: the audit log keeps who took what."""
    from chainon.audit import Action, cli_actor

    detail = {"data": "consent", "rows": count}
    subject = contact if contact is not None else "all"
    runtime.audit.record(brand_id, cli_actor(), Action.CONTACTS_EXPORTED, subject, None, detail)


def outcome_of(ledger: Consent, index: int) -> str:
    """What became of an uncertain opt-out: restored (a later opt-in), confirmed (a later
    certain opt-out), or still unconfirmed (marketing stays stopped, the default)."""
    uncertain = ledger.changes[index]
    for later in ledger.changes[index + 1 :]:
        if later.purpose is not uncertain.purpose:
            continue
        if later.granted:
            return f"restored ({later.evidence.source.value}, {later.at:%Y-%m-%d %H:%M})"
        if not later.evidence.uncertain:
            return f"confirmed ({later.evidence.source.value}, {later.at:%Y-%m-%d %H:%M})"
    return "unconfirmed: marketing stays stopped"


@consent.command("review")
def review(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
) -> None:
    """The replies the opt-out detector was unsure of, and what became of each."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("when", "contact", "words", "rule", "channel", "outcome"):
        table.add_column(column, overflow="fold")
    with runtime_of(settings_of(ctx)) as runtime:
        core = runtime.core
        for ledger in ledgers(core, brand_of(runtime, brand).id):
            for index, change in enumerate(ledger.changes):
                e = change.evidence
                if change.granted or not e.uncertain:
                    continue
                table.add_row(
                    f"{change.at:%Y-%m-%d %H:%M}",
                    e.address or str(ledger.contact_id),
                    e.text,
                    e.rule,
                    e.channel.value if e.channel else "",
                    outcome_of(ledger, index),
                )
    table.title = f"{table.row_count} uncertain opt-out(s)"
    console().print(table)


def read_document(path: Path) -> dict[str, Any]:
    """A settings document from a JSON or YAML file (by its suffix)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            loaded = YAML(typ="safe", pure=True).load(text)
        else:
            loaded = json.loads(text)
    except (json.JSONDecodeError, YAMLError) as exc:
        raise InvalidInput(f"cannot be read: {exc}", field="file") from None
    if not isinstance(loaded, dict):
        raise InvalidInput("must hold one object (the settings document)", field="file")
    return loaded


@consent.command("settings")
def consent_settings(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", exists=True, dir_okay=False, help="Set from this JSON or YAML document."
        ),
    ] = None,
) -> None:
    """The brand's consent settings (keywords, texts, quiet hours, the reach of an opt-out),
    or set them whole from a file: what it leaves out takes the default."""
    import getpass

    from chainon.api.consent_settings import settings_out
    from chainon.domain import commands as cmd
    from chainon.domain.brand import Brand
    from chainon.domain.consent_settings import ConsentSettings

    document = ConsentSettings.model_validate(read_document(file)) if file else None
    with runtime_of(settings_of(ctx)) as runtime:
        core = runtime.core
        brand_id = brand_of(runtime, brand).id
        if document is not None:
            actor = f"cli:{getpass.getuser()}"
            command = cmd.ConfigureConsentSettings(
                brand_id=brand_id, settings=document, actor=actor
            )
            changed = core.handle(command).changed
            note = "settings changed" if changed else "settings unchanged (the same document)"
            console(stderr=True).print(Text(note, style="green" if changed else "yellow"))
        shown = settings_out(core.get(Brand, brand_id))
    console().print_json(shown.model_dump_json())
