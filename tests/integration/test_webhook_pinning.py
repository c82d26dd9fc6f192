"""A delivery connects to the address it checked: a DNS answer that changes between the
check and the connection (rebinding) cannot lead it inside, and TLS is still verified
against the endpoint's name, not the address."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.webhooks import endpoints
from chainon.webhooks.delivery import Clients, Deliveries
from chainon.webhooks.ssrf import Resolve
from tests.conftest import BRAND_SMS, register
from tests.e2e.test_webhooks_api import hook_settings
from tests.webhook_receiver import Receiver, receiver, self_signed

pytestmark = pytest.mark.asyncio

PUBLIC = "93.184.216.34"


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[tuple[Runtime, UUID]]:
    """A runtime whose outbox this test delivers itself (no webhooks role)."""
    runtime = Runtime(hook_settings(tmp_path), roles={Role.CORE, Role.RELAY, Role.VIEWS})
    await runtime.start()
    try:
        yield runtime, register(runtime).id
    finally:
        await runtime.stop()
        runtime.close()


async def owe_one(runtime: Runtime, brand_id: UUID, hook: Receiver) -> None:
    made = endpoints.add(
        runtime.core,
        brand_id,
        hook.url,
        ["message.received"],
        "",
        allow_private=True,
        box=runtime.secrets,
    )
    hook.secrets = [made.secret]
    message = await runtime.provider.inject_inbound(
        sender="+33612345678", recipient=BRAND_SMS, body="Allô ?"
    )
    assert await runtime.recorded(message) is not None
    assert await runtime.call(runtime.webhooks.views.run_until_idle) > 0


async def deliver(
    runtime: Runtime, resolve: Resolve, client: Clients, *, allow_private: bool
) -> list[dict[str, Any]]:
    hooks = runtime.webhooks
    deliveries = Deliveries(
        hooks.store,
        hooks.outbox,
        runtime.call,
        hooks.find,
        hooks.disable,
        allow_private=allow_private,
        scale=0.0001,
        resolve=resolve,
    )
    for _ in range(2):
        await deliveries.step(client, asyncio.Event())
        await asyncio.gather(*deliveries.running.values())
        await asyncio.sleep(0.01)  # past the (scaled) retry delay
    rows: list[dict[str, Any]] = await runtime.call(
        hooks.store.query, hooks.outbox, "SELECT error FROM {webhook_attempts} ORDER BY at", {}
    )
    return rows


async def test_a_name_rebound_to_loopback_after_the_check_never_reaches_it(
    fed: tuple[Runtime, UUID],
) -> None:
    runtime, brand_id = fed
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        """Public to the first question, loopback ever after (a TTL of zero)."""
        asked.append(host)
        return [PUBLIC] if len(asked) == 1 else ["127.0.0.1"]

    # https (a plain http URL is refused before any question, private ones not allowed);
    # the system resolves localhost to loopback
    server, trusted = self_signed("localhost")
    with receiver(tls=server, name="localhost") as hook:
        await owe_one(runtime, brand_id, hook)
        async with Clients(lambda: httpx.AsyncClient(timeout=1, verify=trusted)) as client:
            rows = await deliver(runtime, rebinding, client, allow_private=False)
    assert hook.received == []
    assert asked == ["localhost", "localhost"]  # once per attempt, never by the client
    assert len(rows) == 2
    assert rows[0]["error"].split(":")[0] in {"ConnectError", "ConnectTimeout"}  # PUBLIC
    assert rows[1]["error"] == "resolves to a private address (127.0.0.1)"


async def test_https_to_a_pinned_address_is_verified_against_the_name(
    fed: tuple[Runtime, UUID],
) -> None:
    runtime, brand_id = fed

    async def loopback(host: str, port: int) -> list[str]:
        assert host == "localhost"
        return ["127.0.0.1"]

    server, trusted = self_signed("localhost")  # no IP address in the certificate
    with receiver(tls=server, name="localhost") as hook:
        await owe_one(runtime, brand_id, hook)
        async with Clients(lambda: httpx.AsyncClient(timeout=5, verify=trusted)) as client:
            rows = await deliver(runtime, loopback, client, allow_private=True)
        port = hook.url.split(":")[2].split("/")[0]
    assert [r["error"] for r in rows] == [""]
    assert [d.payload is not None for d in hook.delivered] == [True]  # signature verified
    assert hook.hosts == [f"localhost:{port}"]


async def test_a_certificate_for_another_name_is_refused(fed: tuple[Runtime, UUID]) -> None:
    runtime, brand_id = fed

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    server, trusted = self_signed("shop.example")
    with receiver(tls=server, name="localhost") as hook:
        await owe_one(runtime, brand_id, hook)
        async with Clients(lambda: httpx.AsyncClient(timeout=5, verify=trusted)) as client:
            rows = await deliver(runtime, loopback, client, allow_private=True)
    assert hook.received == []
    assert rows
    assert all("CERTIFICATE_VERIFY_FAILED" in r["error"] for r in rows)


async def test_a_connection_checked_for_one_name_never_carries_another(
    fed: tuple[Runtime, UUID],
) -> None:
    """Two names at one address: the second's certificate is checked on its own
    connection, not taken from the first name's kept-alive one."""
    runtime, brand_id = fed

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    server, trusted = self_signed("localhost")
    with receiver(tls=server, name="localhost", keep_alive=True) as hook:
        await owe_one(runtime, brand_id, hook)
        async with Clients(lambda: httpx.AsyncClient(timeout=5, verify=trusted)) as clients:
            assert [
                r["error"] for r in await deliver(runtime, loopback, clients, allow_private=True)
            ] == [""]
            endpoints.add(
                runtime.core,
                brand_id,
                hook.url.replace("localhost", "shop.example"),
                ["message.received"],
                "",
                allow_private=True,
                box=runtime.secrets,
            )
            message = await runtime.provider.inject_inbound(
                sender="+33612345678", recipient=BRAND_SMS, body="Encore ?"
            )
            assert await runtime.recorded(message) is not None
            assert await runtime.call(runtime.webhooks.views.run_until_idle) > 0
            rows = await deliver(runtime, loopback, clients, allow_private=True)
    errors = [r["error"] for r in rows[1:]]
    assert "" in errors  # localhost's second event, on its own connection
    assert any("CERTIFICATE_VERIFY_FAILED" in e for e in errors)  # shop.example's
    assert len(hook.delivered) == 2
    assert all(h.startswith("localhost:") for h in hook.hosts)
