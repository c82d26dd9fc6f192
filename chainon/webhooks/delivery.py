"""Delivery: every owed event to its endpoint, at least once, each endpoint on its own.

Each endpoint with something due gets its own task, delivering one event at a time in the
order they happened, so a slow or dead endpoint only ever waits for itself (an SMTP relay
that stalled every channel once taught that). A failed attempt (non-2xx, a redirect, a
timeout, a refused connection, an address that resolves inside or a plain ``http`` URL
once private addresses are no longer allowed: see ``ssrf.pinned``, the request goes to the
address checked) is retried on
``SCHEDULE`` with jitter; an event still undelivered ``RETRY_WINDOW`` after its first
attempt is given up, and its endpoint, if nothing reached it in that time, disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import structlog

from chainon.domain.webhooks import Endpoint
from chainon.observability import WEBHOOK_ATTEMPTS, WEBHOOK_FAILURES, WEBHOOK_OLDEST
from chainon.projections.read_model_store import ReadModelStore
from chainon.webhooks import outbox as ob
from chainon.webhooks import signing, ssrf

log = structlog.get_logger(__name__)

# Delay before each retry (the first attempt is immediate), then every 8 h until the window
# closes: about 5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 8 h, 8 h, … — 14 attempts in 3 days.
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=8),
)
RETRY_WINDOW = timedelta(days=3)
JITTER = 0.2  # ± this fraction of each delay, so endpoints back online are not stampeded
# The whole attempt's (resolution, connection, request, answer). The HTTP client's own
# timeout bounds each phase and each read only: a receiver sending a byte every few seconds
# would hold an attempt, and its endpoint's queue, for as long as it liked.
TIMEOUT = 10.0

Call = Callable[..., Awaitable[Any]]
FindEndpoint = Callable[[UUID, UUID], Endpoint | None]  # brand, endpoint (blocking)
Disable = Callable[[UUID, UUID, str], bool]  # brand, endpoint, reason (blocking)


def utcnow() -> datetime:
    return datetime.now(UTC)


def plain_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)


class Clients:
    """One HTTP client per endpoint host name. Requests go to the pinned address
    (``ssrf.pinned``), and a client pools connections by address: a TLS connection checked
    for one name must not carry another name's requests that resolved to the same address."""

    def __init__(self, make: Callable[[], httpx.AsyncClient] = plain_client) -> None:
        self.make = make
        self.by_name: dict[str, httpx.AsyncClient] = {}

    def __call__(self, name: str) -> httpx.AsyncClient:
        if name not in self.by_name:
            self.by_name[name] = self.make()
        return self.by_name[name]

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(c.aclose() for c in self.by_name.values()))
        self.by_name.clear()


def next_delay(
    attempts: int, scale: float = 1.0, rand: Callable[[], float] = random.random
) -> timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    base = SCHEDULE[min(attempts, len(SCHEDULE)) - 1]
    return base * scale * (1 + JITTER * (2 * rand() - 1))


class Deliveries:
    def __init__(
        self,
        store: ReadModelStore,
        outbox: ob.WebhookOutbox,
        call: Call,
        find: FindEndpoint,
        disable: Disable,
        *,
        allow_private: bool,
        scale: float = 1.0,
        interval: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
        resolve: ssrf.Resolve = ssrf.resolve,
        timeout: float = TIMEOUT,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.call = call
        self.find = find
        self.disable = disable
        self.allow_private = allow_private
        self.scale = scale
        self.interval = interval
        self.clock = clock
        self.resolve = resolve
        self.timeout = timeout
        self.running: dict[str, asyncio.Task[None]] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        async with Clients() as clients:
            try:
                while not stopping.is_set():
                    await self.step(clients, stopping)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), self.interval)
            finally:
                for task in self.running.values():
                    task.cancel()
                await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def step(self, clients: Clients, stopping: asyncio.Event) -> None:
        """Starts a task for each endpoint with something due and none running."""
        now = ob.ts(self.clock())
        rows = await self.call(
            self.store.query,
            self.outbox,
            "SELECT endpoint_id, brand_id, MIN(occurred_at) AS oldest, "
            "MIN(next_attempt_at) AS due FROM {webhook_deliveries} "
            "WHERE status = 'pending' GROUP BY endpoint_id, brand_id",
            {},
        )
        WEBHOOK_OLDEST.clear()
        for row in rows:
            age = self.clock() - datetime.fromisoformat(row["oldest"])
            WEBHOOK_OLDEST.labels(row["endpoint_id"]).set(age.total_seconds())
            if row["due"] > now or row["endpoint_id"] in self.running:
                continue
            task = asyncio.create_task(
                self.drain(clients, UUID(row["brand_id"]), UUID(row["endpoint_id"]), stopping)
            )
            self.running[row["endpoint_id"]] = task
            task.add_done_callback(functools.partial(self._finished, row["endpoint_id"]))

    def _finished(self, endpoint_id: str, task: asyncio.Task[None]) -> None:
        self.running.pop(endpoint_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook.delivery_failed", endpoint=endpoint_id, error=repr(task.exception()))

    async def drain(
        self, clients: Clients, brand_id: UUID, endpoint_id: UUID, stopping: asyncio.Event
    ) -> None:
        """Delivers the endpoint's due events in order; a failure ends the pass, so what
        follows waits for the endpoint's next retry rather than hammering it."""
        while not stopping.is_set():
            due = await self.call(
                self.store.query,
                self.outbox,
                "SELECT id, event_type, body, attempts, first_attempt_at, next_attempt_at FROM "
                "{webhook_deliveries} WHERE endpoint_id = %(e)s AND status = 'pending' "
                "AND next_attempt_at <= %(now)s ORDER BY occurred_at, id LIMIT 20",
                {"e": str(endpoint_id), "now": ob.ts(self.clock())},
            )
            if not due:
                return
            endpoint = await self.call(self.find, brand_id, endpoint_id)
            if endpoint is None or not endpoint.enabled:
                await self._set(endpoint_id, ob.SKIPPED)
                return
            for row in due:
                if not await self.attempt(clients, brand_id, endpoint, row):
                    return

    async def attempt(
        self, clients: Clients, brand_id: UUID, endpoint: Endpoint, row: dict[str, Any]
    ) -> bool:
        start, at = time.monotonic(), self.clock()
        body = row["body"].encode()
        code: int | None = None
        error = ""
        try:
            async with asyncio.timeout(self.timeout):
                code = await self._post(clients, endpoint, row["id"], at, body)
            if not 200 <= code < 300:
                error = f"answered {code}"
        except ssrf.Refused as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except TimeoutError:
            error = f"Timeout: no whole answer within {self.timeout:g} s"
        ms = int((time.monotonic() - start) * 1000)
        WEBHOOK_ATTEMPTS.labels(str(endpoint.id)).inc()
        ok = not error
        attempts = int(row["attempts"]) + 1
        first = datetime.fromisoformat(row["first_attempt_at"]) if row["first_attempt_at"] else at
        given_up = not ok and at - first >= RETRY_WINDOW * self.scale
        retry = None if ok or given_up else at + next_delay(attempts, self.scale)
        status = ob.DELIVERED if ok else ob.FAILED if given_up else ob.PENDING
        await self.call(
            self._record, row, endpoint, at, first, attempts, status, code, ms, error, retry
        )
        if not ok:
            WEBHOOK_FAILURES.labels(str(endpoint.id)).inc()
            log.info("webhook.failed", endpoint=str(endpoint.id), webhook_id=row["id"], error=error)
        if given_up:
            await self._maybe_disable(brand_id, endpoint, at)
        return ok

    async def _post(
        self, clients: Clients, endpoint: Endpoint, webhook_id: str, at: datetime, body: bytes
    ) -> int:
        """The receiver's status code, the request sent to the address checked."""
        target = await ssrf.pinned(
            endpoint.url, allow_private=self.allow_private, resolve=self.resolve
        )
        headers = signing.headers(endpoint.secrets(at), webhook_id, int(at.timestamp()), body)
        answer = await clients(target.host).post(
            target.url,
            content=body,
            headers={**headers, "host": target.host_header},
            extensions={"sni_hostname": target.host},
        )
        return answer.status_code

    def _record(
        self,
        row: dict[str, Any],
        endpoint: Endpoint,
        at: datetime,
        first: datetime,
        attempts: int,
        status: str,
        code: int | None,
        ms: int,
        error: str,
        retry: datetime | None,
    ) -> None:
        with self.store.transaction() as cur:
            names = self.store.names(self.outbox)
            cur.execute(
                names.statement(
                    "INSERT INTO {webhook_attempts} (delivery_id, endpoint_id, event_type, at, "
                    "status_code, duration_ms, error, next_retry_at) VALUES (%(d)s, %(e)s, "
                    "%(t)s, %(at)s, %(c)s, %(ms)s, %(err)s, %(r)s)"
                ),
                {
                    "d": row["id"],
                    "e": str(endpoint.id),
                    "t": row["event_type"],
                    "at": ob.ts(at),
                    "c": code,
                    "ms": ms,
                    "err": error,
                    "r": ob.ts(retry) if retry else None,
                },
            )
            cur.execute(
                names.statement(
                    "UPDATE {webhook_deliveries} SET status = %(s)s, attempts = %(n)s, "
                    "first_attempt_at = %(first)s, next_attempt_at = %(next)s, "
                    "last_status_code = %(c)s, delivered_at = %(done)s WHERE id = %(d)s "
                    # a replay that owed it again meanwhile (its own next_attempt_at) wins
                    "AND next_attempt_at = %(was)s"
                ),
                {
                    "s": status,
                    "n": attempts,
                    "first": ob.ts(first),
                    "next": ob.ts(retry or at),
                    "c": code,
                    "done": ob.ts(at) if status == ob.DELIVERED else None,
                    "d": row["id"],
                    "was": row["next_attempt_at"],
                },
            )

    async def _set(self, endpoint_id: UUID, status: str) -> None:
        await self.call(
            self.store.write,
            self.outbox,
            "UPDATE {webhook_deliveries} SET status = %(s)s "
            "WHERE endpoint_id = %(e)s AND status = 'pending'",
            {"s": status, "e": str(endpoint_id)},
        )

    async def _maybe_disable(self, brand_id: UUID, endpoint: Endpoint, at: datetime) -> None:
        since = ob.ts(at - RETRY_WINDOW * self.scale)
        reached = await self.call(
            self.store.query,
            self.outbox,
            "SELECT COUNT(*) AS n FROM {webhook_attempts} WHERE endpoint_id = %(e)s "
            "AND at >= %(since)s AND status_code >= 200 AND status_code < 300",
            {"e": str(endpoint.id), "since": since},
        )
        if int(reached[0]["n"]) == 0:
            reason = f"every delivery failed for {RETRY_WINDOW.days} days"
            if await self.call(self.disable, brand_id, endpoint.id, reason):
                log.warning("webhook.endpoint_disabled", endpoint=str(endpoint.id), reason=reason)
                await self._set(endpoint.id, ob.SKIPPED)
