"""The pumping guard's read model on both backends: sends counted per country, prefix and
never-replied number as the events come, read back by the send decision (a spike blocks
its prefix, a reply takes a number out of the never-replied cap), and every read model
rebuilt the same afterwards (``projections verify all``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.sending_limits import SendingLimits
from chainon.projections.catalogue import all_projections
from chainon.projections.rebuild import verify
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import BRAND_SMS, make_settings, register

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=[StoreKind.SQLITE, StoreKind.POSTGRES])
def store(request: pytest.FixtureRequest) -> StoreKind:
    kind: StoreKind = request.param
    return kind


async def test_counts_block_a_spike_and_rebuild_the_same(
    store: StoreKind, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dsn = request.getfixturevalue("postgres_dsn") if store is StoreKind.POSTGRES else None
    runtime = Runtime(make_settings(store, tmp_path, dsn))
    await runtime.start()
    try:
        brand = register(runtime)
        limits = SendingLimits(prefix_burst=3, prefix_burst_factor=2, never_replied_per_hour=5)
        await runtime.handle(cmd.ConfigureSendingLimits(brand_id=brand.id, limits=limits))
        received = await runtime.handle(
            cmd.ReceiveMessage(
                provider="sandbox",
                provider_message_id="in-1",
                channel=Channel.SMS,
                sender="+33677777777",
                recipient=BRAND_SMS,
                body="Bonjour",
            )
        )
        assert received.position is not None

        async def send(to: str) -> tuple[str | None, str | None]:
            outcome = await runtime.handle(cmd.SendMessage(brand_id=brand.id, to=to, body="Code"))
            if outcome.position is not None:
                assert await runtime.caught_up(outcome.position)
            return outcome.status, outcome.reason

        for i in range(3):
            assert await send(f"+336123450{i:02d}") == ("queued", None)
        assert await send("+33612345099") == ("blocked", "destination_cap")
        assert await send("+33698765401") == ("queued", None)  # another prefix
        assert await send("+33650000001") == ("queued", None)  # the 5th to a never-replied number
        assert await send("+33650000002") == ("blocked", "destination_cap")  # past 5
        assert await send("+33677777777") == ("queued", None)  # wrote to the brand
        for projection in all_projections():
            assert await runtime.call(verify, runtime.views, projection.name) == []
    finally:
        await runtime.stop()
        runtime.close()


async def test_a_send_does_not_wait_for_the_views_batch_in_flight(tmp_path: Path) -> None:
    """SQLite: the guard reads its counts on a read-only connection of its own, so a send
    is decided while the views' writer holds its transaction."""
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        brand = register(runtime).brand
        held, release = threading.Event(), threading.Event()

        def views_batch() -> None:
            with runtime.views.store.transaction():
                held.set()
                release.wait(10)

        writer = threading.Thread(target=views_batch)
        writer.start()
        try:
            assert held.wait(5)
            started = time.monotonic()
            outcome = runtime.core.handle(
                cmd.SendMessage(brand_id=brand.id, to="+33612345001", body="Code")
            )
            assert time.monotonic() - started < 5  # the writer holds its lock for 10 s
            assert outcome.message_id is not None
            assert outcome.reason is None
        finally:
            release.set()
            writer.join()
    finally:
        runtime.close()
