"""The views runner survives SIGKILL mid-batch, and both feeds build the same read models."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.event_store import store_env
from chainon.flows import publish as publish_flow
from chainon.projections.catalogue import all_projections
from chainon.projections.rebuild import verify
from chainon.projections.runner import FEED
from chainon.projections.sqlite import SQLiteReadModels
from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.settings import BusKind, Settings, StoreKind
from chainon.topics import Topics
from chainon.views import views_of
from tests.conftest import BRAND_SMS, ROOT, make_settings
from tests.integration.test_bus import lags


def fill(core: Core, messages: int) -> None:
    senders = [(Channel.SMS, BRAND_SMS), (Channel.RCS, "maison-agent")]
    brand = core.register_brand(slug="maison", name="Maison", senders=senders)
    # An RCS send plans a fallback, and once sent awaits its receipt: the pending deadlines
    # of both kinds have a row to compare too.
    rcs = core.handle(cmd.SendMessage(brand_id=brand.id, to="+33699999999", body="Votre colis"))
    assert rcs.conversation_id is not None
    assert rcs.message_id is not None
    core.handle(
        cmd.RecordSent(
            conversation_id=rcs.conversation_id,
            message_id=rcs.message_id,
            provider="p",
            provider_message_id="rcs-1",
            receipt_within_seconds=3600,
        )
    )
    # Marketing on a Sunday is held for quiet hours: the deferred messages have a row too.
    clock = core.clock
    core.clock = lambda: datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    welcome = core.handle(cmd.SendMessage(brand_id=brand.id, to="+33699999998", body="Bonjour"))
    assert welcome.contact_id is not None
    core.handle(
        cmd.GrantConsent(
            brand_id=brand.id, contact_id=welcome.contact_id, purpose=Purpose.MARKETING
        )
    )
    promo = "Soldes ! STOP au 0939000001"
    campaign = uuid.UUID("00000000-0000-4000-8000-0000000000ca")  # a campaign's send
    marketing = cmd.SendMessage(
        brand_id=brand.id,
        to="+33699999998",
        body=promo,
        purpose=Purpose.MARKETING,
        campaign_id=campaign,
        message_id=ids.campaign_message_id(campaign, "+33699999998"),
    )
    assert core.handle(marketing).release_at is not None
    core.clock = clock
    # An opt-out the detector is unsure of: the ledger, the timeline and the queue's flag.
    unsure = cmd.ReceiveMessage(
        provider="p",
        provider_message_id="unsure",
        channel=Channel.SMS,
        sender="+33699999997",
        recipient=BRAND_SMS,
        body="Stop, who is this?",
    )
    core.handle(unsure)
    # A bot's question waiting for its answer: the dialogue deadlines and flow stats too.
    flow = (ROOT / "examples" / "flows" / "delivery-details.yaml").read_text()
    publish_flow(core, brand.id, flow)
    core.handle(
        cmd.ReceiveMessage(
            provider="p",
            provider_message_id="bot",
            channel=Channel.SMS,
            sender="+33699999996",
            recipient=BRAND_SMS,
            body="Livraison",
        )
    )
    for i in range(messages):
        outcome = core.handle(
            cmd.ReceiveMessage(
                provider="p",
                provider_message_id=str(i),
                channel=Channel.SMS,
                sender=f"+336{i % 97:08d}",
                recipient=BRAND_SMS,
                body=f"m{i}",
            )
        )
        if i % 5 == 0:
            core.handle(
                cmd.TagConversation(
                    brand_id=brand.id, conversation_id=outcome.conversation_id, add=[f"t{i % 3}"]
                )
            )


def test_a_views_runner_killed_mid_batch_ends_equal_to_a_rebuild(tmp_path: Path) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path)
    core = Core(store_env(settings))
    fill(core, 4000)
    head = core.recorder.max_notification_id() or 0
    env = {**os.environ, "CHAINON_DATA_DIR": str(tmp_path), "CHAINON_LOG_JSON": "true"}
    views_db = tmp_path / "views.sqlite3"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "chainon.cli", "worker", "views"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def feed_position() -> int:
        """Read without taking the writer's lock, so the runner is never held up."""
        try:
            with sqlite3.connect(f"file:{views_db}?mode=ro", uri=True, timeout=5) as db:
                row = db.execute(
                    "SELECT position FROM projection_positions WHERE name = ?", (FEED,)
                ).fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    runner = start()
    deadline = time.monotonic() + 60
    while feed_position() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    killed_at = feed_position()
    assert 0 < killed_at < head, f"the kill landed at {killed_at} of {head}: not mid-run"

    runner = start()
    try:
        while feed_position() < head and time.monotonic() < deadline + 60:
            time.sleep(0.1)
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=20)
    views = views_of(core, SQLiteReadModels(views_db), all_projections())
    try:
        assert all(s.lag == 0 for s in views.status())
        for name in views.projections:
            assert verify(views, name) == [], name
    finally:
        views.store.close()
        core.close()


@pytest.mark.postgres
async def test_the_store_feed_and_the_kafka_feed_build_the_same_models(
    tmp_path: Path, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    settings: Settings = make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn).model_copy(
        update={
            "bus": BusKind.KAFKA,
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": f"v{uuid.uuid4().hex[:8]}",
        }
    )
    # The distributed side: a relay publishes the events; the views follow the topic.
    runtime = Runtime(settings, roles={Role.RELAY, Role.VIEWS})
    fill(runtime.core, 300)
    head = runtime.core.recorder.max_notification_id() or 0
    await runtime.start()
    try:
        # The position is the low-water mark over the topic's partitions: at the head, every
        # event is applied, whichever partition carried it (no grace period needed).
        for _ in range(600):
            if await runtime.call(lambda: runtime.views.position) >= head:
                break
            await asyncio.sleep(0.1)
        statuses = await runtime.call(runtime.views.status)
    finally:
        await runtime.stop()
    assert [s.lag for s in statuses] == [0] * len(statuses)
    # The embedded side: the same store, followed directly, into a SQLite read-model file.
    embedded = views_of(
        runtime.core, SQLiteReadModels(tmp_path / "embedded.sqlite3"), all_projections()
    )
    try:
        embedded.run_until_idle()
        for name, projection in embedded.projections.items():
            with runtime.views.store.transaction() as cur:
                from_kafka = runtime.views.store.dump_in(cur, projection)
            with embedded.store.transaction() as cur:
                from_store = embedded.store.dump_in(cur, projection)
            assert from_kafka == from_store, name
            assert any(from_store.values()), f"{name} is empty: the test proves nothing"
    finally:
        embedded.store.close()
        runtime.close()


def test_a_read_only_reader_reads_without_the_write_lock_and_cannot_write(tmp_path: Path) -> None:
    """Another process watching the read models (a report, the benchmark's watcher) must not
    hold up the feed: it reads in deferred transactions on a read-only connection."""
    path = tmp_path / "views.sqlite3"
    writer = SQLiteReadModels(path)
    reader = SQLiteReadModels(path, read_only=True)
    try:
        with writer.transaction() as cursor:
            cursor.execute("CREATE TABLE t (x INTEGER)")
            cursor.execute("INSERT INTO t VALUES (1)")
        with reader.transaction() as reading:
            assert reader.fetch(reading, "SELECT x FROM t", {}) == [{"x": 1}]
            with writer.transaction() as cursor:  # the reader holds no write lock
                cursor.execute("INSERT INTO t VALUES (2)")
        with pytest.raises(sqlite3.OperationalError, match="readonly"), reader.transaction() as c:
            c.execute("INSERT INTO t VALUES (3)")
    finally:
        reader.close()
        writer.close()


async def test_the_views_consumer_of_an_api_process_exports_its_lag(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    prefix = f"v{uuid.uuid4().hex[:8]}"
    settings: Settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={"bus": BusKind.KAFKA, "kafka_bootstrap": kafka_bootstrap, "topic_prefix": prefix}
    )
    runtime = Runtime(settings, roles={Role.RELAY, Role.VIEWS})  # an API process's views
    fill(runtime.core, 20)
    head = runtime.core.recorder.max_notification_id() or 0
    events = Topics(prefix).events
    await runtime.start()
    try:
        for _ in range(600):
            caught_up = await runtime.call(lambda: runtime.views.position) >= head
            if caught_up and (found := lags("views", events)) and sum(found.values()) == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await runtime.stop()
        runtime.close()
    found = lags("views", events)
    assert sorted(found) == [str(p) for p in range(settings.kafka_partitions)], found
    assert sum(found.values()) == 0, found
