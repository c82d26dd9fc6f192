"""Endpoint secrets are sealed in the store: the stored events hold no ``whsec_``, delivery
still signs with the secret in clear (verified by ``standardwebhooks``), secrets stored in
clear before sealing still sign, and a key that cannot open them stops the start."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from chainon.domain.webhooks import WebhookEndpoints
from chainon.errors import CannotStart
from chainon.runtime import Runtime
from chainon.settings import Settings
from chainon.webhooks import endpoints
from chainon.webhooks.sealing import KEY_FILE
from tests.conftest import BRAND_SMS, register
from tests.e2e.test_webhooks_api import hook_settings
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.asyncio


def stored_states(settings: Settings) -> list[bytes]:
    with sqlite3.connect(settings.sqlite_path) as db:
        return [bytes(row[0]) for row in db.execute("SELECT state FROM stored_events")]


async def test_stored_secrets_are_sealed_and_deliveries_still_verify(tmp_path: Path) -> None:
    settings = hook_settings(tmp_path)
    runtime = Runtime(settings)
    await runtime.start()
    try:
        brand = register(runtime)
        with receiver() as hook:
            made = endpoints.add(
                runtime.core,
                brand.id,
                hook.url,
                ["message.received"],
                "",
                allow_private=True,
                box=runtime.secrets,
            )
            rotated = endpoints.rotate(runtime.core, brand.id, made.id, box=runtime.secrets)
            hook.secrets = [made.secret, rotated.secret]  # both must verify
            assert made.secret.startswith("whsec_")
            assert rotated.secret.startswith("whsec_")
            await runtime.provider.inject_inbound(
                sender="+33612345678", recipient=BRAND_SMS, body="Allô ?"
            )
            deadline = time.monotonic() + 10
            while not hook.received:
                assert time.monotonic() < deadline, "no delivery"
                await asyncio.sleep(0.05)
        assert [d.payload is not None for d in hook.received] == [True]
    finally:
        await runtime.stop()
        runtime.close()
    states = stored_states(settings)
    endpoint_events = [s for s in states if b"enc:v1:" in s]
    assert len(endpoint_events) == 2  # added, rotated
    assert not [s for s in states if b"whsec_" in s]
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    for key, why in (
        (Fernet.generate_key().decode(), "does not open"),
        ("not-a-key", "not a Fernet key"),
    ):
        with pytest.raises(CannotStart) as refused:
            Runtime(settings.model_copy(update={"secrets_key": SecretStr(key)}))
        assert refused.value.setting == "CHAINON_SECRETS_KEY"
        assert why in refused.value.detail
    key_file.unlink()
    with pytest.raises(CannotStart) as missing:
        Runtime(settings)
    assert "no key was given" in str(missing.value)
    assert not key_file.exists()  # no new key made while sealed secrets wait for the old


async def test_a_secret_stored_in_clear_before_sealing_still_signs(tmp_path: Path) -> None:
    runtime = Runtime(hook_settings(tmp_path), roles=set())
    try:
        brand = register(runtime)
        held = WebhookEndpoints.open(brand.id, at=datetime.now(UTC))
        old = held.add(
            endpoints.uuid4(),
            "http://127.0.0.1:9/x",
            ["message.received"],
            "",
            "whsec_" + "QUJD" * 8,  # as stored before secrets were sealed
            at=datetime.now(UTC),
        )
        runtime.core.save(held)
        found = runtime.webhooks.find(brand.id, old.id)
        assert found is not None
        assert found.secret == "whsec_" + "QUJD" * 8
    finally:
        runtime.close()
