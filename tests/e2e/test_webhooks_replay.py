"""Replay reads the event log: an endpoint gets again what it missed, including an event
type it subscribed to later and deliveries the outbox already pruned, under stable ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chainon.runtime import Runtime
from chainon.settings import StoreKind
from chainon.webhooks import endpoints
from tests.e2e.test_webhooks_api import add, hook, hooked, inbound, recorded, until  # noqa: F401
from tests.webhook_receiver import Receiver, receiver

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("hooked", [StoreKind.SQLITE, StoreKind.POSTGRES], indirect=True)
async def test_replay_sends_what_was_missed_from_the_event_log_with_stable_ids(
    hooked: tuple[Runtime, httpx.AsyncClient],  # noqa: F811
    hook: Receiver,  # noqa: F811
) -> None:
    runtime, api = hooked
    endpoint_id = await add(api, hook, ["message.received"])
    created = datetime.fromisoformat(
        (await api.get(f"/v1/webhooks/endpoints/{endpoint_id}")).json()["created_at"]
    )
    with receiver() as watcher:  # tells when the statuses have happened
        watcher_id = await add(api, watcher, ["message.status"])
        cid = (await inbound(api, "Ma commande ?"))["conversation_id"]
        await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Demain !"})
        await until(lambda: len(watcher.events()) == 3)
        await recorded(api, watcher_id, 3)
    await until(lambda: len(hook.events()) == 1)
    await recorded(api, endpoint_id, 1)
    first_id = hook.delivered[0].webhook_id
    assert [e["type"] for e in hook.events()] == ["message.received"]

    # Subscribed to the statuses only now; the outbox forgets every settled delivery.
    changed = await api.patch(
        f"/v1/webhooks/endpoints/{endpoint_id}",
        json={"events": ["message.received", "message.status"]},
    )
    assert changed.status_code == 200
    hooks = runtime.webhooks
    assert await runtime.call(hooks.prune_pass, datetime.now(UTC) + timedelta(days=30)) >= 4

    since = datetime.now(UTC) - timedelta(days=1)  # before the endpoint: moved to it
    for n in (1, 2):
        replayed = await api.post(
            f"/v1/webhooks/endpoints/{endpoint_id}/replay", json={"since": since.isoformat()}
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["replayed"] == 4
        assert datetime.fromisoformat(replayed.json()["since"]) == created
        await until(lambda n=n: len(hook.events()) == 1 + 4 * n)
    again = hook.delivered[1:]
    assert all(d.payload is not None for d in again)  # signed, verified
    assert [d.payload["type"] for d in again[:4] if d.payload] == [
        "message.received",
        "message.status",
        "message.status",
        "message.status",
    ]
    assert [d.payload["data"]["status"] for d in again[1:4] if d.payload] == [
        "queued",
        "sent",
        "delivered",
    ]
    assert again[0].webhook_id == first_id  # the pruned delivery's own id
    assert [d.webhook_id for d in again[:4]] == [d.webhook_id for d in again[4:]]
    assert len({d.webhook_id for d in again}) == 4


async def test_a_since_older_than_a_new_endpoint_replays_everything_since_it_was_added(
    hooked: tuple[Runtime, httpx.AsyncClient],  # noqa: F811
    hook: Receiver,  # noqa: F811
) -> None:
    _, api = hooked
    await inbound(api, "avant")  # before the endpoint: not something it missed
    endpoint_id = await add(api, hook, ["message.received"])
    created = (await api.get(f"/v1/webhooks/endpoints/{endpoint_id}")).json()["created_at"]
    for text in ("un", "deux"):
        await inbound(api, text)
    await until(lambda: len(hook.events()) == 2)
    await recorded(api, endpoint_id, 2)

    replayed = await api.post(
        f"/v1/webhooks/endpoints/{endpoint_id}/replay", json={"since": "2000-01-01T00:00:00Z"}
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["replayed"] == 2
    assert datetime.fromisoformat(replayed.json()["since"]) == datetime.fromisoformat(created)
    await until(lambda: len(hook.events()) == 4)
    assert [e["data"]["body"] for e in hook.events()] == ["un", "deux", "un", "deux"]


async def test_replay_further_back_than_seven_days_is_refused_naming_since(
    hooked: tuple[Runtime, httpx.AsyncClient],  # noqa: F811
    hook: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, api = hooked
    with monkeypatch.context() as added:  # an endpoint older than the window
        added.setattr(endpoints, "now", lambda: datetime.now(UTC) - timedelta(days=8))
        endpoint_id = await add(api, hook, ["message.received"])
    since = datetime.now(UTC) - timedelta(days=7, minutes=1)
    answer = await api.post(
        f"/v1/webhooks/endpoints/{endpoint_id}/replay", json={"since": since.isoformat()}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "since"
    assert "at most 7 days back" in answer.json()["detail"]


async def test_a_replay_during_a_delivery_is_not_lost_to_its_record(
    hooked: tuple[Runtime, httpx.AsyncClient],  # noqa: F811
    hook: Receiver,  # noqa: F811
) -> None:
    _, api = hooked
    endpoint_id = await add(api, hook, ["message.received"])
    hook.mode = "hold"  # the first delivery waits in the receiver
    await inbound(api, "en vol")
    await until(lambda: len(hook.held) == 1)
    replayed = await api.post(
        f"/v1/webhooks/endpoints/{endpoint_id}/replay",
        json={"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    )
    assert replayed.json()["replayed"] == 1
    hook.mode = "ok"
    hook.gate.set()
    await until(lambda: len(hook.events()) == 2)
    assert hook.delivered[0].webhook_id == hook.delivered[1].webhook_id
