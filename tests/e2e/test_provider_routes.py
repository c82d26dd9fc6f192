"""Each sender address goes through the provider link its brand chose."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from chainon.cli import app
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.errors import InvalidInput
from chainon.domain.message import Message
from chainon.domain.message_status import MessageStatus
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, CONSUMER, BrandWithKey

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_route_names_a_sender_of_the_brand_and_a_provider_link() -> None:
    brand = Brand.register(slug="maison", name="Maison", at=T0)
    brand.add_sender(Channel.SMS, BRAND_SMS, at=T0)
    assert brand.provider_for(Channel.SMS, BRAND_SMS) == "sandbox"
    assert brand.route(Channel.SMS, BRAND_SMS, "smpp:orange", at=T0)
    assert not brand.route(Channel.SMS, BRAND_SMS, "smpp:orange", at=T0)
    assert brand.provider_for(Channel.SMS, BRAND_SMS) == "smpp:orange"
    with pytest.raises(InvalidInput) as not_ours:
        brand.route(Channel.SMS, "+33939000099", "smpp:orange", at=T0)
    assert not_ours.value.field == "address"
    with pytest.raises(InvalidInput) as bad_name:
        brand.route(Channel.SMS, BRAND_SMS, "SMPP Orange!", at=T0)
    assert bad_name.value.field == "provider"


async def test_a_message_for_a_link_this_worker_lacks_is_dead_lettered_not_lost(
    sqlite_runtime: Runtime, brand: BrandWithKey
) -> None:
    sqlite_runtime.core.route_sender(brand.id, Channel.SMS, BRAND_SMS, "smpp:missing")
    sent = await sqlite_runtime.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="x"))
    letters = sqlite_runtime.bus.consumer(
        "test-dlq", [sqlite_runtime.topics.dlq(sqlite_runtime.topics.outbound)]
    )
    await letters.start()
    try:
        found = []
        for _ in range(100):
            found += await letters.poll(10, timeout=0.1)
            if found:
                break
    finally:
        await letters.stop()
    (letter,) = found
    reason = json.loads(letter.value)
    assert (
        reason["error"] == "provider: no provider link 'smpp:missing' runs in this dispatch worker"
    )
    assert str(sent.message_id) in reason["value"]
    assert sqlite_runtime.provider.sent == {}
    # …and the message says so: failed with that reason, not queued for good.
    assert sent.conversation_id is not None
    assert sent.message_id is not None
    conversation_id, message_id = sent.conversation_id, sent.message_id

    def message() -> Message:
        return sqlite_runtime.core.get(Conversation, conversation_id).message(message_id)

    for _ in range(100):
        if message().status is not MessageStatus.QUEUED:
            break
        await asyncio.sleep(0.05)
    assert message().status is MessageStatus.FAILED
    assert message().reason == (
        "dead-lettered: provider: no provider link 'smpp:missing' runs in this dispatch worker"
    )


def route(*args: str) -> list[str]:
    return ["brands", "route", "acme", "--channel", "sms", *args]


def test_the_cli_routes_a_sender_to_a_configured_link(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINON_DATA_DIR", str(tmp_path))
    link = {"name": "main", "host": "127.0.0.1", "system_id": "acme", "password": "secret"}
    monkeypatch.setenv("CHAINON_SMPP_LINKS", json.dumps([link]))
    runner = CliRunner()
    created = runner.invoke(
        app, ["brands", "create", "acme", "--name", "Acme", "--sms", "09 39 00 00 05"]
    )
    assert created.exit_code == 0, created.output
    routed = runner.invoke(app, route("--address", "09 39 00 00 05", "--provider", "smpp:main"))
    assert routed.exit_code == 0, routed.output
    assert "sms +33939000005 → smpp:main" in routed.output
    assert "not configured" not in routed.output
    refused = runner.invoke(app, route("--address", "+33939000006", "--provider", "smpp:main"))
    assert refused.exit_code == 1
    assert "address:" in refused.output


def test_the_cli_refuses_a_route_to_a_link_nobody_runs_unless_forced(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's block routed to ``smpp:main`` with no such link: every message sent
    from that number was dead-lettered and showed ``queued`` for good."""
    monkeypatch.setenv("CHAINON_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CHAINON_SMPP_LINKS", raising=False)
    runner = CliRunner()
    created = runner.invoke(
        app, ["brands", "create", "acme", "--name", "Acme", "--sms", "09 39 00 00 05"]
    )
    assert created.exit_code == 0, created.output
    refused = runner.invoke(app, route("--address", "09 39 00 00 05", "--provider", "smpp:main"))
    assert refused.exit_code == 1
    assert "provider: no provider link 'smpp:main' is configured" in refused.output
    assert "--force" in refused.output
    listed = runner.invoke(app, ["brands", "list"])
    assert "smpp:main" not in listed.output
    staged = runner.invoke(
        app, route("--address", "09 39 00 00 05", "--provider", "smpp:main", "--force")
    )
    assert staged.exit_code == 0, staged.output
    assert "sms +33939000005 → smpp:main" in staged.output
    assert "smpp:main is not configured here" in staged.output
    back = runner.invoke(app, route("--address", "09 39 00 00 05", "--provider", "sandbox"))
    assert back.exit_code == 0, back.output
