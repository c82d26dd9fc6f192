"""A campaign sent by the distributed views worker (PostgreSQL store, Kafka bus): created
from the command line, sent by ``chainon worker views`` (which holds the campaign worker),
SIGKILLed halfway and started again, it reaches each eligible recipient exactly once,
counted in the store; then the Kafka-fed read models verify against a rebuild."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.campaign import Campaign, CampaignState
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.conversation import Conversation
from chainon.projections.campaign_stats import counts
from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.settings import BusKind, Settings, StoreKind
from tests.conftest import BRAND_SMS, make_settings

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

RECIPIENTS = 400
ELIGIBLE = 360  # opted in; the others are blocked (no_marketing_consent), once each
RATE = 50  # per second: a batch of 50 a second, so the kill lands mid-campaign


def number(i: int) -> str:
    """Spread over 50 number prefixes: in one, the welcome sends and the campaign (800 in
    a few seconds) pass the SMS-pumping guard's 500 a prefix in 10 minutes, and whether
    the guard blocks the last ones depends on how far the views have got."""
    return f"+33612{i % 50:02d}{i // 50:04d}"


def prepare(core: Core) -> None:
    brand = core.register_brand(slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)])
    sends = [
        (cmd.SendMessage(brand_id=brand.id, to=number(i), body="Bienvenue"), None)
        for i in range(RECIPIENTS)
    ]
    outcomes = core.handle_many(sends)
    grants = [
        (
            cmd.GrantConsent(brand_id=brand.id, contact_id=o.contact_id, purpose=Purpose.MARKETING),
            None,
        )
        for o in outcomes[:ELIGIBLE]
        if isinstance(o, cmd.Outcome) and o.contact_id is not None
    ]
    assert len(grants) == ELIGIBLE
    assert all(isinstance(o, cmd.Outcome) for o in core.handle_many(grants))


def environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CHAINON_DATA_DIR": str(settings.data_dir),
        "CHAINON_STORE": "postgres",
        "CHAINON_POSTGRES_DSN": settings.postgres_dsn,
        "CHAINON_POSTGRES_SCHEMA": settings.postgres_schema,
        "CHAINON_BUS": "kafka",
        "CHAINON_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CHAINON_TOPIC_PREFIX": settings.topic_prefix,
        "CHAINON_DEADLINE_POLL_INTERVAL": "0.05",
        "CHAINON_DEMO_BRAND": "false",
        "CHAINON_LOG_JSON": "true",
    }


def chainon(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chainon.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def views_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "chainon.cli", "worker", "views"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def records_per_recipient(core: Core, campaign: UUID) -> dict[str, list[str]]:
    """Every hold or queueing of one of the campaign's messages, from the store."""
    topics = [
        Conversation.MessageQueued.TOPIC,
        Conversation.MessageDeferred.TOPIC,
        Conversation.MessageBlocked.TOPIC,
    ]
    found: dict[str, list[str]] = {}
    for notification in core.recorder.select_notifications(start=1, limit=1_000_000, topics=topics):
        event = core.mapper.to_domain_event(notification)
        if getattr(event, "campaign_id", None) == campaign:
            found.setdefault(event.recipient, []).append(type(event).__name__)  # type: ignore[attr-defined]
    return found


async def test_a_campaign_sent_by_the_distributed_views_worker_killed_halfway_reaches_each_recipient_once(  # noqa: E501
    tmp_path: Path, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn).model_copy(
        update={
            "bus": BusKind.KAFKA,
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": f"c{uuid.uuid4().hex[:8]}",
        }
    )
    env = environment(settings)
    # This process only relays the store's events to Kafka; the campaign is the worker's.
    runtime = Runtime(settings, roles={Role.RELAY})
    prepare(runtime.core)
    await runtime.start()
    audience = tmp_path / "audience.csv"
    audience.write_text(
        "to,first_name\n" + "".join(f"{number(i)},Client {i}\n" for i in range(RECIPIENTS))
    )
    log = tmp_path / "views.log"
    worker = views_worker(env, log)
    try:
        created = chainon(
            env,
            "campaigns",
            "create",
            "--brand",
            "maison",
            "--name",
            "Soldes",
            "--template",
            "Bonjour {{ first_name }}, -20 % ce week-end ! STOP au 0939000001",
            "--csv",
            str(audience),
            "--rate",
            str(RATE),
            "--start",
        )
        assert f"{RECIPIENTS} recipient(s), 0 row(s) left out" in created
        campaign_id = UUID(created.strip().rsplit("campaign ", 1)[1])

        def campaign() -> Campaign:
            return runtime.core.get(Campaign, campaign_id)

        deadline = time.monotonic() + 90
        while campaign().cursor < RECIPIENTS // 4:
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        worker.send_signal(signal.SIGKILL)  # mid-campaign: no chance to finish a thing
        worker.wait(timeout=10)
        killed_at = campaign()
        assert killed_at.state is CampaignState.RUNNING
        assert RECIPIENTS // 4 <= killed_at.cursor < RECIPIENTS

        worker = views_worker(env, log)
        deadline = time.monotonic() + 120
        while True:
            c = await runtime.call(counts, runtime.views.store, campaign_id)
            if (
                campaign().state is CampaignState.FINISHED
                and c.queued + c.deferred + c.blocked == RECIPIENTS
            ):
                break
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, (c, log.read_text()[-3000:])
            await asyncio.sleep(0.1)
        # The read model fed from Kafka counts each recipient once, as the store does.
        assert (c.queued + c.deferred, c.blocked) == (ELIGIBLE, RECIPIENTS - ELIGIBLE)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        await runtime.stop()

    try:
        found = records_per_recipient(runtime.core, campaign_id)
    finally:
        runtime.close()
    assert sorted(found) == sorted(number(i) for i in range(RECIPIENTS))
    for i in range(RECIPIENTS):
        records = found[number(i)]
        assert len(records) == 1, (number(i), records)  # nobody twice, nobody skipped
        if i < ELIGIBLE:  # queued now, or held for French quiet hours
            assert records[0] in ("MessageQueued", "MessageDeferred"), records
        else:
            assert records == ["MessageBlocked"]
    assert Counter(r[0] for r in found.values())["MessageBlocked"] == RECIPIENTS - ELIGIBLE

    verified = chainon(env, "projections", "verify", "all")
    assert "campaign_stats" in verified
