"""A SQLite store written by the version before orjson (eventsourcing's ``JSONTranscoder``)
opens in this one as it was — its rows, aggregates, relayed records and rebuilt views —
and a rolling upgrade goes back: rows this version writes open in the one before."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder

from chainon.adapters.persistence.transcoder import OrjsonTranscoder
from chainon.domain import commands as cmd
from chainon.domain.addresses import parse_phone
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.projections.rebuild import rebuild_many, verify
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, make_settings

PHONE = "+33687650471"
OLD_TOPIC = "eventsourcing.persistence:JSONTranscoder"


def receive(runtime: Runtime, n: int) -> None:
    runtime.core.handle(
        cmd.ReceiveMessage(
            provider="p",
            provider_message_id=f"in-{n}",
            channel=Channel.SMS,
            sender=PHONE,
            recipient=BRAND_SMS,
            body=f"Colis n°{n} : où en est-il ? 📦 𝄞",
        )
    )


def published(runtime: Runtime) -> list[bytes]:
    """Every record the relay would publish: each stored event decoded (and opened)."""
    notifications = runtime.core.recorder.select_notifications(start=1, limit=100_000)
    return [o.value for o in runtime.relay._records(notifications)]


def bodies(runtime: Runtime, brand_id: UUID) -> list[str]:
    core = runtime.core
    contact = core.find_contact(brand_id, parse_phone(PHONE))
    assert contact is not None
    assert contact.current_conversation_id is not None
    conversation = core.get(Conversation, contact.current_conversation_id)
    return sorted(m.body for m in conversation.messages.values())


def dumps(runtime: Runtime) -> dict[str, dict[str, list[str]]]:
    """Every read model's rows."""
    store = runtime.views.store
    with store.transaction() as cur:
        return {name: store.dump_in(cur, p) for name, p in runtime.views.projections.items()}


def opened(settings: Settings, transcoder: type) -> Runtime:
    runtime = Runtime(settings)
    assert type(runtime.core.mapper.transcoder) is transcoder
    return runtime


def test_a_store_of_the_version_before_opens_and_the_upgrade_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path)
    monkeypatch.setenv("TRANSCODER_TOPIC", OLD_TOPIC)  # the version before, as it wrote
    runtime = opened(settings, JSONTranscoder)
    try:
        brand = runtime.core.register_brand(
            slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)]
        )
        for n in range(3):
            receive(runtime, n)
        runtime.views.run_until_idle()
        written = published(runtime)
        messages = bodies(runtime, brand.id)
        views = dumps(runtime)
    finally:
        runtime.close()

    monkeypatch.delenv("TRANSCODER_TOPIC")
    runtime = opened(settings, OrjsonTranscoder)
    try:
        rows = runtime.core.recorder.select_notifications(start=1, limit=100_000)
        coder = runtime.core.mapper.transcoder
        assert [coder.encode(coder.decode(r.state)) for r in rows] == [r.state for r in rows]
        assert published(runtime) == written
        assert bodies(runtime, brand.id) == messages
        rebuild_many(runtime.views, list(runtime.views.projections))
        for name in runtime.views.projections:
            assert verify(runtime.views, name) == [], name
        assert dumps(runtime) == views
        receive(runtime, 3)  # written by this version
        runtime.views.run_until_idle()
        upgraded = published(runtime)
    finally:
        runtime.close()

    monkeypatch.setenv("TRANSCODER_TOPIC", OLD_TOPIC)  # rolled back
    runtime = opened(settings, JSONTranscoder)
    try:
        assert published(runtime) == upgraded
        assert len(upgraded) > len(written)
        assert bodies(runtime, brand.id) == sorted([*messages, "Colis n°3 : où en est-il ? 📦 𝄞"])
    finally:
        runtime.close()
