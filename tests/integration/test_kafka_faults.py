"""Fault tests on a real broker and a real PostgreSQL, counting every record.

Workers run as real processes (``chainon worker …``) where a test kills them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from chainon.adapters.bus.kafka import KafkaBus
from chainon.adapters.bus.port import Outgoing
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.event_store import store_env
from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.settings import BusKind, Settings, StoreKind
from chainon.topic_records import conversation_key, dump
from chainon.topics import Topics
from tests.conftest import BRAND_SMS, make_settings

pytestmark = pytest.mark.postgres


def message(n: int, conversation: int, provider_id: str | None = None) -> cmd.ReceiveMessage:
    return cmd.ReceiveMessage(
        provider="smsc",
        provider_message_id=provider_id or f"c{conversation}-m{n}",
        channel=Channel.SMS,
        sender=f"+336{conversation:08d}",
        recipient=BRAND_SMS,
        body=f"message {n}",
    )


def record(topic: str, m: cmd.ReceiveMessage) -> Outgoing:
    return Outgoing(topic, conversation_key(m.sender, m.recipient), dump(m))


def received_count(core: Core) -> int:
    total, start = 0, 1
    while page := core.recorder.select_notifications(
        start=start, limit=1000, topics=[Conversation.MessageReceived.TOPIC]
    ):
        total += len(page)
        start = page[-1].id + 1
    return total


async def wait_until(check: Callable[[], Any], within: float = 60.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await asyncio.to_thread(check):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {within} s: {what}")
        await asyncio.sleep(0.1)


async def read_events(
    bootstrap: str,
    topic: str,
    expected: int | Callable[[list[dict[str, Any]]], bool],
    within: float = 60.0,
) -> list[dict[str, Any]]:
    """An independent consumer (no group, from the start) reads a topic back, until it has
    ``expected`` records (or the predicate holds) or time runs out."""
    done = (lambda got: len(got) >= expected) if isinstance(expected, int) else expected
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + within
        while not done(events) and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for messages in batches.values():
                events += [json.loads(m.value) for m in messages]
    finally:
        await consumer.stop()
    return events


def all_received(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    """Read until that many distinct MessageReceived events arrived (other events
    interleave across partitions, so a plain record count may stop short)."""

    def done(got: list[dict[str, Any]]) -> bool:
        positions = {e["position"] for e in got if e["type"] == "Conversation.MessageReceived"}
        return len(positions) >= count

    return done


class Deployment:
    """The distributed mode on one machine: PostgreSQL, Kafka, workers as processes."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        self.core = Core({**store_env(settings), "SINGLE_ROW_TRACKING": "y"})
        self.processes: list[subprocess.Popen[bytes]] = []
        self.topics = Topics(settings.topic_prefix)

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "CHAINON_STORE": "postgres",
            "CHAINON_POSTGRES_DSN": s.postgres_dsn,
            "CHAINON_POSTGRES_SCHEMA": s.postgres_schema,
            "CHAINON_BUS": "kafka",
            "CHAINON_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "CHAINON_TOPIC_PREFIX": s.topic_prefix,
            "CHAINON_LOG_JSON": "true",
            "CHAINON_DATA_DIR": str(self.tmp_path),
        }

    def start(self, role: Role) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{role.value}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "chainon.cli", "worker", role.value],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.core.close()


@pytest.fixture
def settings(tmp_path: Path, postgres_dsn: str, kafka_bootstrap: str) -> Settings:
    base = make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn)
    return base.model_copy(
        update={
            "bus": BusKind.KAFKA,
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": f"t{uuid.uuid4().hex[:8]}",
        }
    )


@pytest.fixture
def deployment(settings: Settings, tmp_path: Path) -> Iterator[Deployment]:
    d = Deployment(settings, tmp_path)
    d.core.register_brand(slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)])
    yield d
    d.stop_all()


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(settings.kafka_bootstrap, partitions=settings.kafka_partitions)
    await bus.start()
    yield bus
    await bus.stop()


def assert_ordered_per_conversation(events: list[dict[str, Any]], per_conversation: int) -> None:
    bodies: dict[str, list[str]] = {}
    versions: dict[str, list[int]] = {}
    for e in events:
        if e["type"] == "Conversation.MessageReceived":
            bodies.setdefault(e["aggregate_id"], []).append(e["data"]["body"])
        if e["aggregate_type"] == "Conversation":
            versions.setdefault(e["aggregate_id"], []).append(e["aggregate_version"])
    expected = [f"message {n}" for n in range(per_conversation)]
    assert all(b == expected for b in bodies.values()), bodies
    assert all(v == sorted(v) for v in versions.values())


async def test_order_per_conversation_holds_on_the_events_topic(
    deployment: Deployment, bus: KafkaBus
) -> None:
    await bus.ensure_topics(deployment.topics.all)
    await bus.publish(
        [record(deployment.topics.inbound, message(n, c)) for n in range(4) for c in range(50)]
    )
    deployment.start(Role.CORE)
    deployment.start(Role.RELAY)
    await wait_until(lambda: received_count(deployment.core) == 200, what="200 messages recorded")
    events = await read_events(bus.bootstrap, deployment.topics.events, all_received(200))
    received = [e for e in events if e["type"] == "Conversation.MessageReceived"]
    assert len({e["position"] for e in received}) == 200
    assert len({e["aggregate_id"] for e in received}) == 50
    assert_ordered_per_conversation(events, 4)


async def test_a_relay_killed_mid_stream_loses_no_event(
    deployment: Deployment, bus: KafkaBus
) -> None:
    await bus.ensure_topics(deployment.topics.all)
    for c in range(150):
        deployment.core.handle(message(0, c))
    head = deployment.core.recorder.max_notification_id() or 0
    public = {
        n.id
        for n in deployment.core.recorder.select_notifications(start=1, limit=head)
        if n.topic.startswith(("chainon:Conversation.", "chainon:Contact."))
    }
    relay = deployment.start(Role.RELAY)
    await read_events(bus.bootstrap, deployment.topics.events, 50)  # it is under way
    relay.send_signal(signal.SIGKILL)
    relay.wait()
    deployment.start(Role.RELAY)
    events = await read_events(
        bus.bootstrap, deployment.topics.events, lambda got: public <= {e["position"] for e in got}
    )
    positions = [e["position"] for e in events]
    assert public <= set(positions), f"missing: {sorted(public - set(positions))[:10]}"


async def test_a_core_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    deployment: Deployment, bus: KafkaBus
) -> None:
    await bus.ensure_topics(deployment.topics.all)
    await bus.publish(
        [record(deployment.topics.inbound, message(n, c)) for n in range(3) for c in range(200)]
    )
    worker = deployment.start(Role.CORE)
    await wait_until(lambda: received_count(deployment.core) >= 60, what="a first part recorded")
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert received_count(deployment.core) < 600, "the kill came too late to test anything"
    deployment.start(Role.CORE)
    await wait_until(lambda: received_count(deployment.core) >= 600, what="all 600 messages")
    await asyncio.sleep(1.0)  # anything replayed twice would show now
    assert received_count(deployment.core) == 600


async def test_the_same_inbound_record_twice_is_one_message(
    deployment: Deployment, bus: KafkaBus
) -> None:
    await bus.ensure_topics(deployment.topics.all)
    twice = message(0, 7, provider_id="smsc-42")
    await bus.publish([record(deployment.topics.inbound, twice)] * 2)
    await bus.publish([record(deployment.topics.inbound, message(1, 7))])
    deployment.start(Role.CORE)
    await wait_until(lambda: received_count(deployment.core) == 2, what="two distinct messages")
    await asyncio.sleep(1.0)
    assert received_count(deployment.core) == 2


async def test_poison_inbound_records_land_in_the_dead_letter_topic_and_the_rest_flows(
    deployment: Deployment, bus: KafkaBus
) -> None:
    topics = deployment.topics
    await bus.ensure_topics(topics.all)
    key = conversation_key("+33600000001", BRAND_SMS)
    good = dump(message(0, 1))
    await bus.publish(
        [
            Outgoing(topics.inbound, key, b'{"type": "ReceiveMessage", oops'),
            Outgoing(
                topics.inbound, key, json.dumps({"type": "Teleport", "schema_version": 1}).encode()
            ),
            Outgoing(
                topics.inbound, key, good.replace(b'"schema_version":1', b'"schema_version":9')
            ),
            Outgoing(topics.inbound, key, good),
        ]
    )
    deployment.start(Role.CORE)
    await wait_until(lambda: received_count(deployment.core) == 1, what="the valid record")
    letters = await read_events(bus.bootstrap, topics.dlq(topics.inbound), 3)
    assert [letter["reason"] for letter in letters] == ["invalid record"] * 3
    assert "malformed JSON" in letters[0]["error"]
    assert "Teleport" in letters[1]["error"]
    assert "schema_version" in letters[2]["error"]


async def test_two_core_workers_share_the_partitions_and_keep_order(
    deployment: Deployment, bus: KafkaBus
) -> None:
    await bus.ensure_topics(deployment.topics.all)
    first = deployment.start(Role.CORE)
    second = deployment.start(Role.CORE)
    deployment.start(Role.RELAY)
    await asyncio.sleep(5)  # both join the group
    await bus.publish(
        [record(deployment.topics.inbound, message(n, c)) for n in range(5) for c in range(40)]
    )
    await wait_until(lambda: received_count(deployment.core) == 200, what="200 messages")
    events = await read_events(bus.bootstrap, deployment.topics.events, all_received(200))
    assert_ordered_per_conversation(events, 5)
    assert first.poll() is None
    assert second.poll() is None


async def test_a_broker_restart_loses_nothing(
    tmp_path: Path, postgres_dsn: str, kafka_dir: Path
) -> None:
    from devtools.kafka_broker import kill_broker, restart_broker, start_broker, stop_broker

    directory = kafka_dir / f"restart-{uuid.uuid4().hex[:6]}"
    bootstrap, _ = start_broker(directory)
    settings = make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn).model_copy(
        update={"bus": BusKind.KAFKA, "kafka_bootstrap": bootstrap}
    )
    runtime = Runtime(settings, roles={Role.CORE, Role.RELAY})
    runtime.core.register_brand(slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)])
    bus = KafkaBus(bootstrap)
    try:
        await runtime.start()
        await bus.start()
        await bus.publish([record(runtime.topics.inbound, message(0, c)) for c in range(100)])
        await wait_until(lambda: received_count(runtime.core) >= 20, what="a first part")
        kill_broker(directory)
        await asyncio.sleep(3)
        restart_broker(directory)
        await bus.publish([record(runtime.topics.inbound, message(1, c)) for c in range(100)])
        await wait_until(lambda: received_count(runtime.core) == 200, within=120, what="all 200")
        events = await read_events(bootstrap, runtime.topics.events, all_received(200), within=60)
        received = {e["position"] for e in events if e["type"] == "Conversation.MessageReceived"}
        assert len(received) == 200
    finally:
        await bus.stop()
        await runtime.stop()
        runtime.close()
        stop_broker(directory)


async def test_a_redelivered_command_changes_nothing(deployment: Deployment, bus: KafkaBus) -> None:
    topics = deployment.topics
    await bus.ensure_topics(topics.all)
    brand = deployment.core.list_brands()[0]
    send = cmd.SendMessage(
        brand_id=brand.id, to="+33612345678", body="Une seule fois", command_id=uuid.uuid4()
    )
    no_id = cmd.SendMessage(brand_id=brand.id, to="+33612345678", body="sans identifiant")
    await bus.publish([Outgoing(topics.commands, send.to, dump(send))] * 3)
    await bus.publish([Outgoing(topics.commands, send.to, dump(no_id))])
    deployment.start(Role.CORE)
    letters = await read_events(bus.bootstrap, topics.dlq(topics.commands), 1)
    assert "command_id: required" in letters[0]["error"]

    def queued() -> int:
        return len(
            deployment.core.recorder.select_notifications(
                start=1, limit=1000, topics=[Conversation.MessageQueued.TOPIC]
            )
        )

    await wait_until(lambda: queued() >= 1, what="the command applied")
    await asyncio.sleep(1.0)
    assert queued() == 1


async def test_sigterm_finishes_commits_and_leaves(deployment: Deployment, bus: KafkaBus) -> None:
    await bus.ensure_topics(deployment.topics.all)
    await bus.publish([record(deployment.topics.inbound, message(0, c)) for c in range(30)])
    worker = deployment.start(Role.CORE)
    await wait_until(lambda: received_count(deployment.core) == 30, what="30 messages")
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 20) == 0
    # Everything was committed: a new consumer of the group has nothing left to read.
    consumer = bus.consumer(deployment.topics.group("core"), [deployment.topics.inbound])
    await consumer.start()
    try:
        assert await consumer.poll(100, timeout=3.0) == []
    finally:
        await consumer.stop()
