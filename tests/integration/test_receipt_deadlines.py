"""A sent message whose receipt never comes does not stay ``sent`` forever.

Field trial: after a dispatch SIGKILL in distributed mode 71 of 300 messages stayed ``sent``
for good (their receipts died with the sandbox's timers); a gateway restart lost a few
more. Each SMS now waits for its receipt until a deadline (48 h unless set; an SMPP link's
validity period), durable through the same read-model mechanism as the RCS fallback: a
deadline that passed while Chainon was stopped is enforced after the start. And the
sandbox's receipts themselves survive a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from chainon.api.conversations import timeline_entries
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus
from chainon.projections.analytics import report
from chainon.projections.receipt_deadlines import pending
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import CONSUMER, make_settings, register

pytestmark = pytest.mark.asyncio
DEFAULT_DEADLINE = timedelta(hours=48)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        chosen = make_settings(StoreKind.SQLITE, tmp_path)
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")
        chosen = make_settings(StoreKind.POSTGRES, tmp_path, dsn)
    return chosen.model_copy(update={"deadline_poll_interval": 0.02})


def runtime_on(settings: Settings, clock: Clock) -> Runtime:
    runtime = Runtime(settings)
    runtime.core.clock = clock
    runtime.deadlines.clock = clock
    runtime.receipt_deadlines.clock = clock
    return runtime


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def message_of(runtime: Runtime, outcome: cmd.Outcome) -> Callable[[], MessageStatus]:
    assert outcome.conversation_id is not None
    assert outcome.message_id is not None
    cid: UUID = outcome.conversation_id
    mid: UUID = outcome.message_id
    return lambda: runtime.core.get(Conversation, cid).message(mid).status


async def test_an_sms_without_a_receipt_expires_at_its_deadline_even_across_a_restart(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"sandbox_outcome": "silent"})  # the SMSC lost it
    assert settings.receipt_deadline_seconds == DEFAULT_DEADLINE.total_seconds()
    clock = Clock()
    sent_at = clock.now
    first = runtime_on(settings, clock)
    await first.start()
    try:
        brand = register(first)
        sent = await first.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Colis"))
        assert sent.channel is Channel.SMS
        status = message_of(first, sent)
        await until(lambda: status() is MessageStatus.SENT)
        assert sent.conversation_id is not None
        assert sent.message_id is not None
        cid, mid = sent.conversation_id, sent.message_id
        message = first.core.get(Conversation, cid).message(mid)
        assert message.receipt_deadline == sent_at + DEFAULT_DEADLINE
        await until(lambda: pending(first.views.store) == 1)
        clock.now += DEFAULT_DEADLINE - timedelta(seconds=1)
        await asyncio.sleep(0.2)  # polls before the deadline: nothing
        assert status() is MessageStatus.SENT
    finally:
        await first.stop()
        first.close()

    clock.now += timedelta(seconds=2)  # the deadline passed while nothing ran
    second = runtime_on(settings, clock)
    second.receipt_deadlines.resubmit_after = 0  # handed on at every poll: repeats harmless
    await second.start()
    try:
        status = message_of(second, sent)
        await until(lambda: status() is MessageStatus.EXPIRED)
        message = second.core.get(Conversation, cid).message(mid)
        assert message.reason is not None
        assert message.reason.startswith("no delivery receipt by ")
        await until(lambda: pending(second.views.store) == 0)
        await asyncio.sleep(0.2)
        # In the timeline, once, with its reason.
        overdue = [e for e in timeline_entries(second.core, cid) if e.event == "ReceiptOverdue"]
        assert len(overdue) == 1
        assert overdue[0].detail["reason"] == message.reason
        # Counted as expired in the analytics.
        position = second.core.recorder.max_notification_id() or 0
        assert await second.caught_up(position)
        days = report(second.views.store, brand.id, sent_at.date(), clock.now.date())
        assert sum(d.expired for d in days if d.channel == "sms") == 1
        assert sum(d.delivered + d.failed for d in days) == 0
    finally:
        await second.stop()
        second.close()


async def test_a_receipt_in_time_ends_the_wait(settings: Settings) -> None:
    clock = Clock()
    runtime = runtime_on(settings, clock)
    await runtime.start()
    try:
        brand = register(runtime)
        sent = await runtime.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Colis"))
        status = message_of(runtime, sent)
        await until(lambda: status() is MessageStatus.DELIVERED)
        position = runtime.core.recorder.max_notification_id() or 0
        assert await runtime.caught_up(position)
        assert pending(runtime.views.store) == 0
        clock.now += DEFAULT_DEADLINE * 2
        await asyncio.sleep(0.2)
        assert status() is MessageStatus.DELIVERED
    finally:
        await runtime.stop()
        runtime.close()


async def test_the_sandbox_receipts_owed_at_a_stop_come_after_the_restart(
    tmp_path: Path,
) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={"sandbox_receipt_delay": 1.0}
    )
    first = Runtime(settings)
    await first.start()
    try:
        brand = register(first)
        sent = await first.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Colis"))
        await until(lambda: message_of(first, sent)() is MessageStatus.SENT)
    finally:
        await first.stop()  # before the receipt's second is up
        first.close()
    second = Runtime(settings)
    await second.start()
    try:
        status = message_of(second, sent)
        assert status() is MessageStatus.SENT
        await until(lambda: status() is MessageStatus.DELIVERED, within=5.0)
        assert second.provider.sent == {}  # not sent again: only its receipt was owed
    finally:
        await second.stop()
        second.close()
