"""A fallback deadline outlives the process that planned it.

An RCS message is sent, nobody delivers it, and Chainon stops before its deadline. A new
runtime on the same data directory, started after the deadline, knows nothing but what is
on disk: it must still ask for the revocation, and only once, though its scheduler hands
the deadline on at every poll. The clocks of the core and the scheduler are moved by hand,
so the 60-second minimum costs no waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message import FallbackState
from chainon.domain.message_status import MessageStatus
from chainon.projections.fallback_deadlines import due, pending
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from chainon.topic_records import INBOUND, read
from tests.conftest import BRAND_SMS, CONSUMER, make_settings

pytestmark = pytest.mark.asyncio


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def runtime_on(settings: Settings, clock: Clock) -> Runtime:
    runtime = Runtime(settings)
    runtime.core.clock = clock
    runtime.deadlines.clock = clock
    return runtime


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def revocations_requested(runtime: Runtime) -> int:
    topic = Conversation.RevocationRequested.TOPIC
    return len(runtime.core.recorder.select_notifications(start=1, limit=1000, topics=[topic]))


async def deadlines_handed_on(runtime: Runtime) -> list[cmd.EnforceFallbackDeadline]:
    """What the schedulers put on the inbound topic, read by a group of its own."""
    consumer = runtime.bus.consumer("probe", [runtime.topics.inbound])
    await consumer.start()
    try:
        records = await consumer.poll(10_000, timeout=0)
    finally:
        await consumer.stop()
    commands = [read(INBOUND, r.value) for r in records]
    return [c for c in commands if isinstance(c, cmd.EnforceFallbackDeadline)]


async def test_a_deadline_pending_at_a_stop_is_enforced_once_after_the_restart(
    tmp_path: Path,
) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={"deadline_poll_interval": 0.02, "sandbox_outcome": "silent"}
    )
    clock = Clock()
    first = runtime_on(settings, clock)
    await first.start()
    try:
        brand = first.core.register_brand(
            slug="maison-rcs",
            name="Maison RCS",
            senders=[(Channel.RCS, "maison-agent"), (Channel.SMS, BRAND_SMS)],
        )
        sent = await first.handle(
            cmd.SendMessage(
                brand_id=brand.id, to=CONSUMER, body="Votre colis arrive", fallback_after_seconds=60
            )
        )
        assert sent.channel is Channel.RCS
        cid, mid = sent.conversation_id, sent.message_id
        assert cid is not None
        assert mid is not None

        def message_status() -> MessageStatus:
            return first.core.get(Conversation, cid).message(mid).status

        await until(lambda: message_status() is MessageStatus.SENT)  # silent: never delivered
        assert await first.caught_up(sent.position or 0)
        assert pending(first.views.store) == 1
        await asyncio.sleep(0.2)  # ten polls, all before the deadline
        assert plan_state(first, cid, mid) is FallbackState.PLANNED
        assert await deadlines_handed_on(first) == []
    finally:
        await first.stop()
        first.close()

    clock.now += timedelta(seconds=61)  # the deadline passed while nothing ran
    second = runtime_on(settings, clock)
    second.deadlines.resubmit_after = 0  # hand it on at every poll: repeats must be harmless
    await second.start()
    try:
        assert [d.message_id for d in due(second.views.store, clock.now)] == [mid]
        await until(lambda: plan_state(second, cid, mid) is not FallbackState.PLANNED)
        await until(lambda: pending(second.views.store) == 0)  # the revocation reached it
        await asyncio.sleep(0.2)  # more polls, and the repeats they handed on, processed
        assert revocations_requested(second) == 1
        # The sandbox revoked it: the SMS follows, once.
        await until(lambda: plan_state(second, cid, mid) is FallbackState.TRIGGERED)
        await until(lambda: len(second.provider.sent_on(Channel.SMS)) >= 1)
        await asyncio.sleep(0.2)
        messages = second.core.get(Conversation, cid).messages.values()
        assert [m.channel for m in messages] == [Channel.RCS, Channel.SMS]
        assert len(second.provider.sent_on(Channel.SMS)) == 1
        handed_on = await deadlines_handed_on(second)
        assert handed_on, "the revocation came some other way than the scheduler"
        assert {(c.conversation_id, c.message_id, c.now) for c in handed_on} == {(cid, mid, False)}
    finally:
        await second.stop()
        second.close()


def plan_state(runtime: Runtime, cid: UUID, mid: UUID) -> FallbackState | None:
    plan = runtime.core.get(Conversation, cid).message(mid).fallback
    return None if plan is None else plan.state
