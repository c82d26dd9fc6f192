"""The README's Kafka examples run, as written, against a real broker and Chainon's workers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from chainon.domain.channels import Channel
from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.settings import BusKind, StoreKind
from tests.conftest import BRAND_SMS, ROOT, make_settings

pytestmark = pytest.mark.postgres
EXAMPLES = ROOT / "examples"


def test_the_readme_shows_the_examples_as_they_are() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("send_command.py", "follow_events.py", "validate_events.py"):
        body = (EXAMPLES / name).read_text()
        code = body[body.index("import asyncio") :].strip()
        assert code in readme, f"README.md does not show examples/{name} as it is"


async def test_a_brand_sends_a_command_and_follows_the_events(
    tmp_path: Path, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    prefix = f"ex{uuid.uuid4().hex[:8]}"
    settings = make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn).model_copy(
        update={"bus": BusKind.KAFKA, "kafka_bootstrap": kafka_bootstrap, "topic_prefix": prefix}
    )
    runtime = Runtime(settings, roles={Role.CORE, Role.RELAY, Role.DISPATCH})
    brand = runtime.core.register_brand(
        slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)]
    )
    env = {**os.environ, "CHAINON_TOPIC_PREFIX": prefix}
    await runtime.start()
    try:
        sent = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                str(EXAMPLES / "send_command.py"),
                kafka_bootstrap,
                str(brand.id),
                "+33612345678",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        # The brand (2 events), the contact (3), the conversation (opened, queued, sent,
        # delivered): 9 events in all.
        followed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(EXAMPLES / "follow_events.py"), kafka_bootstrap, "9"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        # The integrator's check: each event against the document it exported.
        exported = tmp_path / "asyncapi.json"
        export = [sys.executable, "-m", "chainon.cli", "schemas", "export", "-o", str(exported)]
        exporting = await asyncio.to_thread(
            subprocess.run, export, env=env, capture_output=True, text=True, timeout=60
        )
        assert exporting.returncode == 0, exporting.stderr
        validated = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                str(EXAMPLES / "validate_events.py"),
                kafka_bootstrap,
                str(exported),
                "9",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        await runtime.stop()
        runtime.close()
    assert followed.returncode == 0, followed.stderr
    assert validated.returncode == 0, validated.stdout + validated.stderr
    verdicts = [line.split(maxsplit=2)[2] for line in validated.stdout.splitlines()]
    assert verdicts == ["valid"] * 9, validated.stdout
    kinds = [line.split()[1] for line in followed.stdout.splitlines()]
    for kind in (
        "Contact.Registered",
        "Conversation.Opened",
        "Conversation.MessageQueued",
        "Conversation.MessageSent",
        "Conversation.MessageDelivered",
    ):
        assert kind in kinds, followed.stdout
