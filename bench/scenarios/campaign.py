"""A marketing campaign to ``sends`` recipients, end to end through the sandbox: the
campaign worker's batches through the core's group commit, the relay, the dispatch to the
sandbox and its delivery receipts. Beside ``send-core`` in the same run, it says what the
campaign path costs over the core's bare decisions.

Every recipient opted in beforehand (their service message and opt-in are recorded and
delivered before the clock starts), so every send is allowed; the core's clock is moved
to a weekday morning in Paris so that quiet hours defer none. The cap per sender number
is set to the highest a campaign may have.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bench.accounting import DELIVERED, QUEUED, Tally
from bench.registry import Context, Kind, measurement
from bench.result import Missing, Result, own_peak_rss
from bench.traffic import spread_number

if TYPE_CHECKING:
    from chainon.runtime import Runtime

SENDER = "+33939000001"
BLOCKED = "chainon:Conversation.MessageBlocked"
SETUP_BATCH = 500
TEMPLATE = "Bonjour {{ first_name }}, -20% ce week-end sur tout le magasin. STOP SMS"


def weekday_morning_shift(now: datetime) -> timedelta:
    """How far ahead the next Tuesday-to-Friday 09:00 UTC (10:00 or 11:00 in Paris) is."""
    day = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    while day.weekday() not in (1, 2, 3, 4):
        day += timedelta(days=1)
    return day - now


@measurement("campaign", Kind.SCENARIO, modes=("embedded",))
async def campaign(ctx: Context) -> Result:
    """A campaign sent by the worker through the sandbox, until every message is delivered."""
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime

    count = ctx.counts.sends
    settings = ctx.settings(sandbox_receipt_delay=0.05)
    configure_logging("WARNING", json=settings.log_json)
    runtime = Runtime(settings)
    shift = weekday_morning_shift(datetime.now(UTC))
    runtime.core.clock = lambda: datetime.now(UTC) + shift
    await runtime.start()
    try:
        return await _run(ctx, runtime, count)
    finally:
        await runtime.stop()
        runtime.close()


async def _run(ctx: Context, runtime: Runtime, count: int) -> Result:
    from uuid import uuid4

    from chainon.campaign_audience import AudienceStore
    from chainon.domain import commands as cmd
    from chainon.domain.channels import Channel
    from chainon.domain.consent import Purpose

    core = runtime.core
    brand = core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, SENDER)])
    # Spread over 89 number prefixes, as a real list is: all in one block of numbers, the
    # SMS-pumping guard would rightly block the prefix (over 500 sends in 10 minutes).
    numbers = [spread_number(i) for i in range(count)]
    setup = Tally(core, [DELIVERED, BLOCKED])
    for start in range(0, count, SETUP_BATCH):
        chunk = numbers[start : start + SETUP_BATCH]
        welcome = [
            (cmd.SendMessage(brand_id=brand.id, to=n, body="Bienvenue"), None) for n in chunk
        ]
        outcomes = await runtime.call(core.handle_many, welcome)
        grants = [
            (
                cmd.GrantConsent(
                    brand_id=brand.id, contact_id=o.contact_id, purpose=Purpose.MARKETING
                ),
                None,
            )
            for o in outcomes
            if isinstance(o, cmd.Outcome) and o.contact_id is not None
        ]
        await runtime.call(core.handle_many, grants)
    ready_by = time.perf_counter() + max(120.0, count / 20)
    while True:  # the setup's own traffic is over before the clock starts
        done = await runtime.call(setup.advance)
        if done[DELIVERED] >= count:
            break
        if done[BLOCKED] or time.perf_counter() > ready_by:
            raise Missing(
                f"the setup's {count} welcome messages: {done[DELIVERED]} delivered, "
                f"{done[BLOCKED]} blocked"
            )
        await asyncio.sleep(0.2)

    campaign_id = uuid4()
    await runtime.handle(
        cmd.CreateCampaign(
            brand_id=brand.id,
            campaign_id=campaign_id,
            name="Soldes",
            template=TEMPLATE,
            defaults={"first_name": "client"},
            channel=Channel.SMS,
            rate_per_second=10_000,
            audience="csv",
        )
    )
    store = await runtime.call(lambda: AudienceStore.of(runtime.views.store))
    rows = [(n, {"first_name": f"Client {i}"}) for i, n in enumerate(numbers)]
    await runtime.call(lambda: store.register(campaign_id, brand.id, "bench", active=True))
    await runtime.call(store.fill, campaign_id, rows)
    await runtime.handle(
        cmd.ImportCampaignAudience(
            brand_id=brand.id, campaign_id=campaign_id, recipients=count, rejected=0
        )
    )
    after = core.recorder.max_notification_id() or 0
    tally = Tally(core, [QUEUED, DELIVERED], after=after)
    cpu = ctx.stages().start()
    started = time.perf_counter()
    await runtime.handle(cmd.ScheduleCampaign(brand_id=brand.id, campaign_id=campaign_id))
    queued_at: float | None = None
    deadline = started + max(120.0, count / 50)
    while True:
        counts = await runtime.call(tally.advance)
        if queued_at is None and counts[QUEUED] >= count:
            queued_at = time.perf_counter() - started
        if counts[DELIVERED] >= count:
            break
        if time.perf_counter() > deadline:
            raise Missing(
                f"of {count} campaign messages, {counts[QUEUED]} queued and "
                f"{counts[DELIVERED]} delivered"
            )
        await asyncio.sleep(0.1)
    seconds = time.perf_counter() - started
    cpu.stop()
    return Result(
        name="campaign",
        mode=ctx.mode,
        count=count,
        seconds=seconds,
        unit="messages",
        limit="sqlite.insert",
        baselines=("eventsourcing.sqlite.save-100",),
        rss={"chainon (this process)": own_peak_rss()},
        cpu=cpu.seconds,
        extra={
            "queued_seconds": round(queued_at or seconds, 2),
            "queued_per_second": round(count / (queued_at or seconds), 1),
            "delivered": int(counts[DELIVERED]),
            "beside": "send-core@embedded",
        },
        settings=runtime.settings.model_dump(mode="json"),
    )
