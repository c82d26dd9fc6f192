"""Contacts from a terminal: erasure of a contact's personal data (GDPR art. 17)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of

contacts = typer.Typer(no_args_is_help=True, help="Contacts: erasure of personal data.")
app.add_typer(contacts, name="contacts")


@contacts.command("erase")
def erase(
    ctx: typer.Context,
    contact: Annotated[UUID, typer.Argument(help="The contact's id.")],
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
) -> None:
    """Erases the contact's personal data: its data key is destroyed, so its addresses,
    name, attributes, message texts and consent wording read "erased" in the store, the
    API and, once rebuilt, the read models. Running it again is harmless."""
    from chainon.audit import cli_actor, record_erasure
    from chainon.erasure import erase as erase_contact

    actor = cli_actor()
    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        erasure = erase_contact(runtime, brand_id, contact, by=actor)
        detail = {"recorded": str(erasure.recorded).lower()}
        record_erasure(runtime.audit, brand_id, contact, actor, detail=detail)
    out = console()
    if erasure.recorded:
        out.print(Text(f"contact {contact} erased (ContactErased recorded)", style="green"))
    else:
        out.print(Text(f"contact {contact} was erased already; its key is destroyed"))
    if erasure.plaintext_events:
        out.print(
            Text(
                f"{erasure.plaintext_events} event(s) of this contact were stored before "
                "personal data was encrypted: erasure cannot reach them, they stay readable",
                style="yellow",
            )
        )
    out.print(
        "The read models keep what they showed until rebuilt: "
        "`chainon projections rebuild all`. Records already published on the events "
        "topic stay until the topic's retention removes them."
    )
