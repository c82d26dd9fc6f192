"""The steady load's second latency: from the API's answer to a write until that write is
readable, as a client sees it with ``min_position``.

While the load runs, a probe plays a client of the API (Chainon's FastAPI app on the
measured runtime, called in process through ASGI, so no socket or server stands between;
or, for ``chainon serve``'s tree, its API over HTTP, as any client calls it):
it writes one consumer message through ``POST /v1/sandbox/inbound``, which answers once
the core recorded it, with its ``position``; then it reads the agent queue with
``min_position`` set to that position, which answers once the views include it. The time
from the first answer to the second is the figure. One probe at a time, a few a second:
the probe's messages are its own (ids ``probe-…``, conversations of their own) and are not
counted among the load's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from bench.traffic import BRAND_NUMBER

if TYPE_CHECKING:
    from uuid import UUID

    from chainon.runtime import Runtime

PROBES_PER_SECOND = 5.0
PROBE_CONVERSATIONS = 50


@dataclass
class Probes:
    """What the probe found: one latency (seconds) per probe, and the ones that failed."""

    seconds: list[float] = field(default_factory=list)
    not_caught_up: int = 0  # the read answered at the end of its wait, not caught up
    unrecorded: int = 0  # the write answered before the core recorded it: no position
    failures: list[str] = field(default_factory=list)


class Prober:
    """Made (the app built, a key issued, one probe answered) before the clock starts:
    building the app imports FastAPI's whole stack, which would stall the publisher."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.found = Probes()

    @classmethod
    async def ready(cls, runtime: Runtime, brand_id: UUID) -> Prober:
        import httpx

        from chainon.api.app import create_app

        app = create_app(runtime=runtime)
        app.state.runtime = runtime  # what the lifespan sets: this runtime is started
        key = await runtime.call(runtime.core.api_keys.issue, brand_id, "bench probe")
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://chainon",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        prober = cls(client)
        await _one(client, -1, Probes())  # the first request's lazy work, not counted
        return prober

    @classmethod
    async def over_http(cls, base_url: str, key: str) -> Prober:
        """A prober of an API served by another process."""
        client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        prober = cls(client)
        await _one(client, -1, Probes())
        return prober

    async def run(self, stopping: asyncio.Event) -> Probes:
        """Probes until ``stopping`` is set; a probe in flight then completes."""
        k = 0
        try:
            while not stopping.is_set():
                began = time.monotonic()
                try:
                    await _one(self.client, k, self.found)
                except httpx.HTTPError as exc:
                    self.found.failures.append(repr(exc))
                k += 1
                pause = 1 / PROBES_PER_SECOND - (time.monotonic() - began)
                if pause > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), pause)
        finally:
            await self.client.aclose()
        return self.found


async def _one(client: httpx.AsyncClient, k: int, found: Probes) -> None:
    sender = f"+33698{k % PROBE_CONVERSATIONS:06d}"  # apart from the load's +33600…
    written = await client.post(
        "/v1/sandbox/inbound",
        json={
            "from": sender,
            "to": BRAND_NUMBER,
            "body": "Bonjour",
            "provider_message_id": f"probe-{k}",
        },
    )
    answered = time.monotonic()
    if written.status_code not in (200, 201, 202):
        found.failures.append(f"write: {written.status_code} {written.text[:200]}")
        return
    if written.json().get("position") is None:  # on the bus, not recorded in the API's wait
        found.unrecorded += 1
        return
    position = written.json()["position"]
    read = await client.get("/v1/queue", params={"min_position": position, "limit": 1})
    readable = time.monotonic()
    if read.status_code != 200:
        found.failures.append(f"read: {read.status_code} {read.text[:200]}")
        return
    if not read.json().get("caught_up"):
        found.not_caught_up += 1
    found.seconds.append(readable - answered)
