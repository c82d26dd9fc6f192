"""The outbox forgets settled deliveries after the retention: delivered and given-up rows
older than it go with their attempts, a batch at a time; newer ones and everything still
owed stay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from chainon.projections.catalogue import all_projections
from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from chainon.webhooks import endpoints
from chainon.webhooks.delivery import Clients, Deliveries
from tests.conftest import BRAND_SMS, register
from tests.e2e.test_webhooks_api import hook_settings
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.asyncio


async def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@pytest.mark.parametrize("store", [StoreKind.SQLITE, StoreKind.POSTGRES])
async def test_settled_rows_older_than_the_retention_are_pruned(
    tmp_path: Path, store: StoreKind, request: pytest.FixtureRequest
) -> None:
    dsn = request.getfixturevalue("postgres_dsn") if store is StoreKind.POSTGRES else None
    settings = hook_settings(tmp_path, store, dsn).model_copy(update={"webhooks_retention_days": 7})
    runtime = Runtime(settings, roles={Role.CORE, Role.RELAY, Role.VIEWS})
    await runtime.start()
    brand = register(runtime)
    hooks = runtime.webhooks
    try:
        with receiver() as hook:
            endpoints.add(
                runtime.core,
                brand.id,
                hook.url,
                ["message.received"],
                "",
                allow_private=True,
                box=runtime.secrets,
            )
            deliveries = Deliveries(
                hooks.store,
                hooks.outbox,
                runtime.call,
                hooks.find,
                hooks.disable,
                allow_private=True,
                resolve=loopback,
            )
            async with Clients(lambda: httpx.AsyncClient(timeout=5)) as client:
                for text in ("vieux", "récent", "abandonné", "dû"):
                    hook.mode = "down" if text == "dû" else "ok"
                    message = await runtime.provider.inject_inbound(
                        sender="+33612345678", recipient=BRAND_SMS, body=text
                    )
                    assert await runtime.recorded(message) is not None
                    await runtime.call(hooks.views.run_until_idle)
                    await deliveries.step(client, asyncio.Event())
                    await asyncio.gather(*deliveries.running.values())

        def rows() -> dict[str, str]:
            found = hooks.store.query(
                hooks.outbox, "SELECT id, status, body FROM {webhook_deliveries}", {}
            )
            return {r["body"].split('"body":"')[1].split('"')[0]: r["id"] for r in found}

        ids = await runtime.call(rows)
        assert len(ids) == 4
        now = datetime.now(UTC)

        def age(text: str, days: int, status: str) -> None:
            at = (now - timedelta(days=days)).isoformat(timespec="microseconds")
            hooks.store.write(
                hooks.outbox,
                "UPDATE {webhook_deliveries} SET status = %(s)s, next_attempt_at = %(at)s, "
                "occurred_at = %(at)s WHERE id = %(id)s",
                {"s": status, "at": at, "id": ids[text]},
            )
            hooks.store.write(
                hooks.outbox,
                "UPDATE {webhook_attempts} SET at = %(at)s WHERE delivery_id = %(id)s",
                {"at": at, "id": ids[text]},
            )

        await runtime.call(age, "vieux", 10, "delivered")
        await runtime.call(age, "récent", 6, "delivered")
        await runtime.call(age, "abandonné", 9, "failed")
        await runtime.call(age, "dû", 12, "pending")  # old, but still owed

        assert await runtime.call(hooks.prune_pass, now, 1) == 2  # one per batch
        assert sorted(await runtime.call(rows)) == ["dû", "récent"]
        attempts = await runtime.call(
            hooks.store.query, hooks.outbox, "SELECT delivery_id FROM {webhook_attempts}", {}
        )
        assert {a["delivery_id"] for a in attempts} == {ids["dû"], ids["récent"]}
        assert await runtime.call(hooks.prune_pass, now) == 0
        # `projections verify all` compares the catalogue's models with a rebuild: the
        # outbox is not one of them, so what pruning removed is never a divergence.
        assert hooks.outbox.name not in {p.name for p in all_projections()}
    finally:
        await runtime.stop()
        runtime.close()
