"""A flow's timeout outlives the process that asked the question.

The bot asks, nobody answers, and Chainon stops before the deadline. A new runtime on the
same data directory, its clock moved past the deadline, knows nothing but what is on disk:
it must still time the dialogue out, once, and hand it off (or close it) as the flow
says. Then ``projections verify all`` rebuilds every read model from the events and finds
the ones the runtimes kept.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from chainon.domain import ids
from chainon.domain.bot import Bot
from chainon.domain.channels import Channel
from chainon.projections.dialogue_deadlines import due, pending
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import make_settings
from tests.e2e.flow_helpers import (
    TUESDAY_MORNING,
    bot_events,
    client,
    publish,
    queued,
    register_bot_brand,
    said,
    write,
)

pytestmark = pytest.mark.asyncio


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runtime_on(settings: Settings, clock: Clock) -> Runtime:
    runtime = Runtime(settings)
    runtime.core.clock = clock
    runtime.dialogue_deadlines.clock = clock
    return runtime


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def timed_out(runtime: Runtime) -> int:
    topic = Bot.FlowTimedOut.TOPIC
    return len(runtime.core.recorder.select_notifications(start=1, limit=1000, topics=[topic]))


def verify_all(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chainon.cli", "projections", "verify", "all"],
        env={**os.environ, "CHAINON_DATA_DIR": str(data_dir), "CHAINON_DEMO_BRAND": "false"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("flow", "keyword", "channel", "minutes", "action"),
    [
        ("delivery-details", "livraison", Channel.SMS, 240, "handoff"),
        ("appointment-booking", "rdv", Channel.RCS, 60, "close"),
    ],
)
async def test_a_question_unanswered_at_a_stop_times_out_after_the_restart(
    tmp_path: Path, flow: str, keyword: str, channel: Channel, minutes: int, action: str
) -> None:
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={"deadline_poll_interval": 0.02}
    )
    clock = Clock(TUESDAY_MORNING)
    first = runtime_on(settings, clock)
    await first.start()
    try:
        brand = register_bot_brand(first)
        async for api in client(first, brand.key):
            await publish(api, flow)
            cid = (await write(api, keyword, channel))["conversation_id"]
            assert len(await said(api, cid)) == 1
            await until(lambda: pending(first.views.store) == 1)
            clock.now += timedelta(minutes=minutes - 1)
            await asyncio.sleep(0.2)  # ten polls, all before the deadline
            assert timed_out(first) == 0
    finally:
        await first.stop()
        first.close()

    clock.now += timedelta(minutes=2)  # the deadline passed while nothing ran
    second = runtime_on(settings, clock)
    second.dialogue_deadlines.resubmit_after = 0  # at every poll: repeats must be harmless
    await second.start()
    try:
        assert len(due(second.views.store, clock.now)) == 1
        await until(lambda: timed_out(second) == 1)
        await until(lambda: pending(second.views.store) == 0)
        await asyncio.sleep(0.2)  # more polls, and the repeats they handed on, processed
        assert timed_out(second) == 1
        async for api in client(second, brand.key):
            events = await bot_events(api, cid)
            kinds = [kind for kind, _ in events]
            if action == "handoff":
                assert kinds[-2:] == ["FlowTimedOut", "HandedOff"]
                assert events[-1][1]["reason"] == "timeout"
                (item,) = await queued(api, "delivery")
                assert item["id"] == cid
                assert item["handoff"]["reason"] == "timeout"
            else:
                assert kinds[-1] == "FlowTimedOut"
                assert events[-1][1]["action"] == "close"
            await write(api, "15/12 14h30", channel)  # too late: the bot is silent
            assert len(await said(api, cid)) == 1
        bot = second.core.find(Bot, ids.bot_id(UUID(cid)))
        assert bot is not None
        assert bot.waiting is None
    finally:
        await second.stop()
        second.close()

    verified = await asyncio.to_thread(verify_all, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "dialogue_deadlines" in verified.stdout
