"""Erasing a contact on a real store, SQLite and PostgreSQL: once its key is destroyed and
every projection rebuilt, neither its number nor its words are anywhere in the databases
or in what the relay publishes, and the store still replays and verifies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from chainon.campaign_audience import AudienceStore
from chainon.domain import commands as cmd
from chainon.domain.addresses import parse_phone
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.erasure import ERASED
from chainon.erasure import erase
from chainon.projections import crm_profile as crm
from chainon.projections.rebuild import rebuild_many, verify
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, make_settings

CAMPAIGN = UUID("5f0c8c8e-3c39-4a52-9a4e-3d5d8f8e2f10")
PHONE = "+33687650431"  # this test's own: no other test's store holds it
OTHER = "+33687650432"
WORDS = ("colis-rouge-7781", "Réponse-zèbre-5512", "Léa Quintessence", "Valparaiso-city")
SPOKEN = {
    "national": PHONE.replace("+33", "0"),  # the number as other tables might spell it
    "e164": PHONE,
}


def play(runtime: Runtime) -> tuple[UUID, UUID, UUID]:
    """A conversation, a reply, a name, an attribute and an opt-out; another contact."""
    core = runtime.core
    brand = core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)])
    for n, (sender, body) in enumerate(
        [(PHONE, f"Mon {WORDS[0]} est perdu"), (OTHER, "bonjour"), (PHONE, "STOP")]
    ):
        core.handle(
            cmd.ReceiveMessage(
                provider="p",
                provider_message_id=f"in-{n}",
                channel=Channel.SMS,
                sender=sender,
                recipient=BRAND_SMS,
                body=body,
            )
        )
    contact = core.find_contact(brand.id, parse_phone(PHONE))
    assert contact is not None
    assert contact.current_conversation_id is not None
    conversation = contact.current_conversation_id
    core.handle(cmd.Reply(brand_id=brand.id, conversation_id=conversation, body=WORDS[1]))
    core.handle(
        cmd.UpdateContact(
            brand_id=brand.id,
            contact_id=contact.id,
            name=WORDS[2],
            attributes={"city": WORDS[3]},
        )
    )
    # the brand's upload for a campaign: its own table beside the read models
    audience = AudienceStore.of(runtime.views.store)
    audience.register(CAMPAIGN, brand.id, "2026-12-01T09:00:00+00:00")
    audience.fill(CAMPAIGN, [(PHONE, {"prenom": WORDS[2]}), (OTHER, {"prenom": "Hugo"})])
    runtime.views.run_until_idle()
    return brand.id, contact.id, conversation


def published(runtime: Runtime) -> bytes:
    """Every record the relay would publish for the whole store, as it is now."""
    notifications = runtime.core.recorder.select_notifications(start=1, limit=100_000)
    return b"\n".join(o.value for o in runtime.relay._records(notifications))


def erase_and_rebuild(settings: Settings) -> tuple[UUID, UUID, bytes]:
    runtime = Runtime(settings)
    try:
        brand_id, contact_id, conversation_id = play(runtime)
        before = published(runtime)
        assert PHONE.encode() in before  # what the test looks for is there to find
        assert WORDS[0].encode() in before
        erasure = erase(runtime, brand_id, contact_id, by="test")
        assert erasure.recorded
        assert erasure.keys_destroyed == 1
        assert erasure.plaintext_events == 0
        runtime.views.run_until_idle()
        # the CRM profile forgets the contact's data at once, as a rebuild will
        live = crm.profile(runtime.views.store, brand_id, contact_id)
        assert live is not None
        assert (live.addresses, live.name, live.attributes) == ([], ERASED, {"city": ERASED})
        rebuild_many(runtime.views, list(runtime.views.projections))
        for name in runtime.views.projections:
            assert verify(runtime.views, name) == [], name
        # the store replays, with "erased" in place of the data
        contact = runtime.core.get(Contact, contact_id)
        assert contact.erased
        assert [a.value for a in contact.addresses] == [ERASED]
        assert contact.name == ERASED
        conversation = runtime.core.get(Conversation, conversation_id)
        assert {m.body for m in conversation.messages.values()} == {ERASED}
        other = runtime.core.find_contact(brand_id, parse_phone(OTHER))
        assert other is not None  # another contact keeps its data
        assert [a.value for a in other.addresses] == [OTHER]
        kept = AudienceStore.of(runtime.views.store).recipients(CAMPAIGN, 0, 10)
        assert [(r.address, r.attributes) for r in kept] == [
            (ERASED, {}),
            (OTHER, {"prenom": "Hugo"}),
        ]
        after = published(runtime)
    finally:
        runtime.close()
    return brand_id, contact_id, after


def assert_nowhere(found: bytes, where: str) -> None:
    for text in (*SPOKEN.values(), *WORDS):
        assert text.encode() not in found, f"{text!r} still in {where}"


def test_an_erased_contact_is_nowhere_in_the_sqlite_files(tmp_path: Path) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path)
    _, _, after = erase_and_rebuild(settings)
    assert_nowhere(after, "the records the relay publishes")
    assert OTHER.encode() in after
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == settings.sqlite_path.name for p in files)
    for path in files:
        assert_nowhere(path.read_bytes(), str(path.relative_to(tmp_path)))


@pytest.mark.postgres
def test_an_erased_contact_is_nowhere_in_the_postgres_tables(
    tmp_path: Path, postgres_dsn: str
) -> None:
    settings = make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn)
    _, _, after = erase_and_rebuild(settings)
    assert_nowhere(after, "the records the relay publishes")
    tables = dict(every_table(postgres_dsn))
    assert f"{settings.postgres_schema}.chainon_events" in tables
    assert f"{settings.postgres_schema}.contact_keys" in tables
    for table, content in tables.items():
        assert_nowhere(content, table)
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert_nowhere(path.read_bytes(), str(path))


def every_table(dsn: str) -> Iterator[tuple[str, bytes]]:
    """Each table of the server's database, every row's every value as bytes (a bytea as
    its bytes, not its hex text): what a ``pg_dump`` holds."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE "
            "table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, name in found:
            rows = conn.execute(
                sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
            ).fetchall()
            yield f"{schema}.{name}", b"\n".join(_bytes(v) for row in rows for v in row)


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()
