"""Quiet hours hold marketing, durably: a send at 21:00 Paris time on a Saturday waits for
Monday 08:00, survives a stop of the process holding the scheduler, and is asked about
again at its release (an opt-out meanwhile blocks it). Clocks are moved by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.consent_settings import ConsentSettings
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus
from chainon.projections.deferred_messages import pending
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import BRAND_SMS, make_settings
from tests.integration.test_durable_deadlines import Clock, until

pytestmark = pytest.mark.asyncio

PARIS = ZoneInfo("Europe/Paris")
SATURDAY_NIGHT = datetime(2026, 12, 5, 21, 0, tzinfo=PARIS)
MONDAY_MORNING = datetime(2026, 12, 7, 8, 0, tzinfo=PARIS)
PROMO = "Soldes -30 % ce week-end ! STOP au 0939000001"
STAYS = "+33612345601"
LEAVES = "+33612345602"


def runtime_on(tmp_path: Path, clock: Clock) -> Runtime:
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(
        update={"deadline_poll_interval": 0.02}
    )
    runtime = Runtime(settings)
    runtime.core.clock = clock
    runtime.deadlines.clock = clock
    runtime.releases.clock = clock
    return runtime


async def opted_in(runtime: Runtime, brand_id: UUID, number: str) -> UUID:
    sent = await runtime.handle(cmd.SendMessage(brand_id=brand_id, to=number, body="Bienvenue"))
    assert sent.contact_id is not None
    await runtime.handle(
        cmd.GrantConsent(brand_id=brand_id, contact_id=sent.contact_id, purpose=Purpose.MARKETING)
    )
    return sent.contact_id


def status_of(runtime: Runtime, outcome: cmd.Outcome) -> MessageStatus:
    assert outcome.conversation_id is not None
    assert outcome.message_id is not None
    conversation = runtime.core.get(Conversation, outcome.conversation_id)
    return conversation.message(outcome.message_id).status


async def test_a_saturday_night_promotion_goes_on_monday_morning_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = Clock()
    clock.now = SATURDAY_NIGHT.astimezone(UTC)
    first = runtime_on(tmp_path, clock)
    await first.start()
    try:
        brand = first.core.register_brand(
            slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)]
        )
        await opted_in(first, brand.id, STAYS)
        leaving = await opted_in(first, brand.id, LEAVES)
        held = []
        for number in (STAYS, LEAVES):
            promo = cmd.SendMessage(
                brand_id=brand.id, to=number, body=PROMO, purpose=Purpose.MARKETING
            )
            held.append(await first.handle(promo))
        for outcome in held:
            assert outcome.status is MessageStatus.DEFERRED
            assert outcome.release_at == MONDAY_MORNING
        late = await first.handle(
            cmd.SendMessage(
                brand_id=brand.id,
                to=STAYS,
                body=PROMO,
                purpose=Purpose.MARKETING,
                not_after=datetime(2026, 12, 6, 12, 0, tzinfo=PARIS),
            )
        )
        assert (late.status, late.reason) == (MessageStatus.BLOCKED, "quiet_hours_past_deadline")
        assert await first.caught_up(held[-1].position or 0)
        assert pending(first.views.store) == 2
        await asyncio.sleep(0.2)  # polls, all before Monday
        assert [status_of(first, o) for o in held] == [MessageStatus.DEFERRED] * 2
        # Sunday: one of them opts out while the message waits.
        clock.now += timedelta(hours=15)
        await first.handle(
            cmd.RevokeConsent(brand_id=brand.id, contact_id=leaving, purpose=Purpose.MARKETING)
        )
    finally:
        await first.stop()
        first.close()

    clock.now = MONDAY_MORNING.astimezone(UTC) + timedelta(seconds=1)
    second = runtime_on(tmp_path, clock)
    second.releases.resubmit_after = 0  # handed on at every poll: repeats must be harmless
    await second.start()
    try:
        await until(lambda: pending(second.views.store) == 0)
        stays, leaves = held
        await until(lambda: status_of(second, stays) is MessageStatus.DELIVERED)
        assert status_of(second, leaves) is MessageStatus.BLOCKED
        assert stays.conversation_id is not None
        assert leaves.conversation_id is not None
        gone = second.core.get(Conversation, leaves.conversation_id)
        assert gone.message(leaves.message_id or UUID(int=0)).reason == "opted_out"
        went = second.core.get(Conversation, stays.conversation_id)
        history = [s for s, _ in went.message(stays.message_id or UUID(int=0)).history]
        assert history[:3] == [MessageStatus.DEFERRED, MessageStatus.QUEUED, MessageStatus.SENT]
        await asyncio.sleep(0.2)  # more polls: nothing more goes
        promos = [m for m in second.provider.sent_on(Channel.SMS) if m.body == PROMO]
        assert [m.recipient for m in promos] == [STAYS]
    finally:
        await second.stop()
        second.close()


async def test_a_release_asks_the_brands_own_window_again(tmp_path: Path) -> None:
    """Deferred by France's window, then the brand narrows its own: at 08:00 the release
    holds the message again, to the brand's 10:00."""
    clock = Clock()
    clock.now = datetime(2026, 12, 8, 7, 0, tzinfo=PARIS).astimezone(UTC)  # a Tuesday
    runtime = runtime_on(tmp_path, clock)
    try:
        brand = runtime.core.register_brand(
            slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)]
        )
        await opted_in(runtime, brand.id, STAYS)
        send = cmd.SendMessage(brand_id=brand.id, to=STAYS, body=PROMO, purpose=Purpose.MARKETING)
        held = await runtime.handle(send)
        assert held.release_at == datetime(2026, 12, 8, 8, 0, tzinfo=PARIS)
        window = {"FR": {"opens": "10:00", "closes": "18:00"}}
        settings = ConsentSettings.model_validate({"quiet_hours": window})
        await runtime.handle(cmd.ConfigureConsentSettings(brand_id=brand.id, settings=settings))
        clock.now = datetime(2026, 12, 8, 8, 0, 1, tzinfo=PARIS).astimezone(UTC)
        assert held.conversation_id is not None
        assert held.message_id is not None
        release = cmd.ReleaseDeferredMessage(
            conversation_id=held.conversation_id, message_id=held.message_id
        )
        again = await runtime.handle(release)
        assert again.status is MessageStatus.DEFERRED
        assert again.release_at == datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)
    finally:
        runtime.close()
