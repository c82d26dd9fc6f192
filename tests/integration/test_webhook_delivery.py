"""The retry schedule and the three-day window, on a clock the test moves: an endpoint that
answers 503 for three days is retried on ``SCHEDULE``, then disabled with an event and a
log line. An attempt is bounded as a whole (a receiver trickling its answer cannot hold
it), and a plain ``http`` URL goes out only while private addresses are allowed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from chainon.domain import ids
from chainon.domain.webhooks import Endpoint
from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.webhooks import endpoints
from chainon.webhooks.delivery import JITTER, RETRY_WINDOW, SCHEDULE, Clients, Deliveries
from chainon.webhooks.outbox import FEED
from tests.conftest import BRAND_SMS, register
from tests.e2e.test_webhooks_api import hook_settings
from tests.unit.test_webhooks import answers
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.asyncio


async def test_an_endpoint_failing_for_three_days_is_retried_on_schedule_then_disabled(
    tmp_path: Path,
) -> None:
    settings = hook_settings(tmp_path).model_copy(update={"webhooks_retry_scale": 1.0})
    # No webhooks role: this test feeds the outbox and delivers itself, on its own clock.
    runtime = Runtime(settings, roles={Role.CORE, Role.RELAY, Role.DISPATCH, Role.VIEWS})
    await runtime.start()
    brand = register(runtime)
    try:
        with receiver() as hook:
            hook.mode = "down"
            endpoint = endpoints.add(
                runtime.core,
                brand.id,
                hook.url,
                ["message.received"],
                "",
                allow_private=True,
                box=runtime.secrets,
            )
            message = await runtime.provider.inject_inbound(
                sender="+33612345678", recipient=BRAND_SMS, body="Allô ?"
            )
            assert await runtime.recorded(message) is not None
            hooks = runtime.webhooks
            assert await runtime.call(hooks.views.run_until_idle) > 0

            now = [datetime.now(UTC)]
            deliveries = Deliveries(
                hooks.store,
                hooks.outbox,
                runtime.call,
                hooks.find,
                hooks.disable,
                allow_private=True,
                clock=lambda: now[0],
            )
            stopping = asyncio.Event()
            with capture_logs() as logs:
                async with Clients(lambda: httpx.AsyncClient(timeout=10)) as client:
                    for _ in range(24 * 4):  # four days, an hour at a time
                        await deliveries.step(client, stopping)
                        await asyncio.gather(*deliveries.running.values())
                        now[0] += timedelta(hours=1)
            rows = await runtime.call(
                hooks.store.query,
                hooks.outbox,
                "SELECT at, next_retry_at FROM {webhook_attempts} ORDER BY at",
                {},
            )
        assert len(rows) == len(hook.received) > 8  # every attempt reached the receiver
        for n, row in enumerate(rows[:-1], start=1):  # each wait is its step of the schedule
            wait = datetime.fromisoformat(row["next_retry_at"]) - datetime.fromisoformat(row["at"])
            step = SCHEDULE[min(n, len(SCHEDULE)) - 1]
            assert step * (1 - JITTER) <= wait <= step * (1 + JITTER), n
        first, last = (datetime.fromisoformat(rows[i]["at"]) for i in (0, -1))
        longest = SCHEDULE[-1] * (1 + JITTER) + timedelta(hours=1)  # the test's clock step
        assert RETRY_WINDOW <= last - first <= RETRY_WINDOW + longest
        assert rows[-1]["next_retry_at"] is None  # given up

        found = endpoints.get(runtime.core, brand.id, endpoint.id)
        assert not found.enabled
        assert found.disabled_reason == "every delivery failed for 3 days"
        stored = runtime.core.events.get(ids.webhook_endpoints_id(brand.id))
        assert [type(e).__name__ for e in stored][-1] == "EndpointDisabled"
        assert [e for e in logs if e["event"] == "webhook.endpoint_disabled"] == [
            {
                "event": "webhook.endpoint_disabled",
                "log_level": "warning",
                "endpoint": str(endpoint.id),
                "reason": "every delivery failed for 3 days",
            }
        ]
    finally:
        await runtime.stop()
        runtime.close()


async def test_the_outbox_owes_each_event_once_whatever_feeds_it_again(tmp_path: Path) -> None:
    runtime = Runtime(hook_settings(tmp_path), roles={Role.CORE, Role.RELAY, Role.VIEWS})
    await runtime.start()
    brand = register(runtime)
    try:
        endpoints.add(
            runtime.core,
            brand.id,
            "http://127.0.0.1:9/x",
            ["message.received"],
            "",
            allow_private=True,
            box=runtime.secrets,
        )
        for text in ("un", "deux"):
            message = await runtime.provider.inject_inbound(
                sender="+33612345678", recipient=BRAND_SMS, body=text
            )
            assert await runtime.recorded(message) is not None
        hooks = runtime.webhooks

        def owed() -> list[str]:
            rows = hooks.store.query(
                hooks.outbox, "SELECT id FROM {webhook_deliveries} ORDER BY id", {}
            )
            return [r["id"] for r in rows]

        await runtime.call(hooks.views.run_until_idle)
        first = await runtime.call(owed)
        assert len(first) == 2
        # The feed starts over (a crash before its position was kept, a re-delivered batch):
        # the versions it kept in the same transaction say every event was applied.
        store = hooks.store
        with store.transaction() as cur:
            table = store.qualify(store.positions_table)
            cur.execute(store.placeholders(f"DELETE FROM {table} WHERE name = %(n)s"), {"n": FEED})
        assert await runtime.call(hooks.views.run_until_idle) > 0
        assert await runtime.call(owed) == first
    finally:
        await runtime.stop()
        runtime.close()


@asynccontextmanager
async def owed_one(tmp_path: Path, url: str) -> AsyncIterator[tuple[Runtime, Endpoint]]:
    """An endpoint (saved while private addresses and http were allowed) owed one
    ``message.received``; no webhooks role: the test delivers."""
    runtime = Runtime(hook_settings(tmp_path), roles={Role.CORE, Role.RELAY, Role.VIEWS})
    await runtime.start()
    brand = register(runtime)
    try:
        endpoint = endpoints.add(
            runtime.core,
            brand.id,
            url,
            ["message.received"],
            "",
            allow_private=True,
            box=runtime.secrets,
        )
        message = await runtime.provider.inject_inbound(
            sender="+33612345678", recipient=BRAND_SMS, body="Allô ?"
        )
        assert await runtime.recorded(message) is not None
        assert await runtime.call(runtime.webhooks.views.run_until_idle) > 0
        yield runtime, endpoint
    finally:
        await runtime.stop()
        runtime.close()


async def deliver_once(runtime: Runtime, **options: Any) -> list[dict[str, Any]]:
    """One pass of delivery (every due endpoint's task to its end); the attempts made."""
    hooks = runtime.webhooks
    deliveries = Deliveries(
        hooks.store, hooks.outbox, runtime.call, hooks.find, hooks.disable, **options
    )
    async with Clients() as clients:  # the real clients: a 10 s timeout per phase
        await deliveries.step(clients, asyncio.Event())
        await asyncio.gather(*deliveries.running.values())
    rows: list[dict[str, Any]] = await runtime.call(
        hooks.store.query,
        hooks.outbox,
        "SELECT a.status_code, a.error, a.next_retry_at, d.status FROM {webhook_attempts} a "
        "JOIN {webhook_deliveries} d ON d.id = a.delivery_id ORDER BY a.at",
        {},
    )
    return rows


async def test_a_receiver_trickling_its_answer_cannot_hold_an_attempt_past_the_timeout(
    tmp_path: Path,
) -> None:
    with receiver() as hook:
        hook.mode = "trickle"  # a byte every 0.2 s: no read ever waits 10 s
        async with owed_one(tmp_path, hook.url) as (runtime, _):
            started = time.monotonic()
            (attempt,) = await deliver_once(runtime, allow_private=True, timeout=1.0)
            took = time.monotonic() - started
        assert len(hook.received) == 1  # it reached the receiver, which kept answering
    assert 1.0 <= took < 3.0
    assert attempt["status_code"] is None
    assert attempt["error"] == "Timeout: no whole answer within 1 s"
    assert attempt["next_retry_at"] is not None  # retried on the schedule
    assert attempt["status"] == "pending"


async def test_an_http_url_saved_while_private_addresses_were_allowed_goes_out_no_more(
    tmp_path: Path,
) -> None:
    with receiver() as hook:
        assert hook.url.startswith("http://")
        async with owed_one(tmp_path, hook.url) as (runtime, _):
            # The setting is off now; the name resolves to a public address, so only the
            # scheme can refuse it.
            (attempt,) = await deliver_once(
                runtime, allow_private=False, resolve=answers("93.184.216.34"), timeout=2.0
            )
        assert hook.received == []
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("http is refused: https only")
    assert attempt["next_retry_at"] is not None
