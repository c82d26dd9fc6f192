"""Rate limits per API key and route family (issue 20): a key over its rate is answered
429 with ``Retry-After`` and a problem naming the limit, another key is not slowed, and
the key passes again once the wait is over; on PostgreSQL, two API processes spend from
one budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from chainon.api.app import create_app
from chainon.auth import split_api_key
from chainon.rate_limits import Family, family_of
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import make_settings, register

pytestmark = pytest.mark.asyncio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def limited(settings: Settings, **rates: float) -> Settings:
    return settings.model_copy(update={f"rate_limit_{k}": v for k, v in rates.items()})


def client(runtime: Runtime, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(StoreKind.SQLITE, tmp_path)
    runtime = Runtime(limited(settings, reads=1, reads_burst=2))
    try:
        yield runtime
    finally:
        runtime.close()


async def test_a_key_over_its_rate_waits_and_another_key_does_not(runtime: Runtime) -> None:
    clock = Clock()
    runtime.rate_limiter.clock = clock
    greedy = register(runtime, "acme")
    other_key = runtime.core.api_keys.issue(greedy.id, "other")  # same brand, own budget
    async with client(runtime, greedy.key) as api, client(runtime, other_key) as other:
        assert [(await api.get("/v1/conversations")).status_code for _ in range(2)] == [200, 200]

        refused = await api.get("/v1/conversations")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["limit"] == "reads"
        assert problem["title"] == "Rate limited"
        assert "1 requests a second, 2 at once" in problem["detail"]

        # the other key, and the same key in another family, are not slowed
        assert [(await other.get("/v1/conversations")).status_code for _ in range(2)] == [
            200,
            200,
        ]
        missing = await api.delete(f"/v1/webhooks/endpoints/{uuid4()}")
        assert missing.status_code == 404  # past the key and its webhooks budget

        clock.now += 0.5
        assert (await api.get("/v1/conversations")).status_code == 429
        clock.now += 0.5  # Retry-After later: a token is back
        assert (await api.get("/v1/conversations")).status_code == 200
        assert (await api.get("/v1/conversations")).status_code == 429


async def test_a_refused_key_answers_401_not_429(runtime: Runtime) -> None:
    """Limits count only keys that authenticated: a stranger cannot spend a brand's."""
    register(runtime, "acme")
    async with client(runtime, "chn_000000000000_nope") as stranger:
        answers = [(await stranger.get("/v1/conversations")).status_code for _ in range(4)]
    assert answers == [401] * 4


async def test_a_rate_of_zero_lifts_the_familys_limit(tmp_path: Path) -> None:
    settings = limited(make_settings(StoreKind.SQLITE, tmp_path), reads=0, reads_burst=1)
    runtime = Runtime(settings)
    try:
        brand = register(runtime, "acme")
        async with client(runtime, brand.key) as api:
            answers = [(await api.get("/v1/conversations")).status_code for _ in range(5)]
        assert answers == [200] * 5
    finally:
        runtime.close()


async def test_routes_fall_in_their_families() -> None:
    assert family_of("POST", "/v1/messages") is Family.MESSAGES
    assert family_of("POST", "/v1/messages/batch") is Family.MESSAGES
    assert family_of("POST", "/v1/conversations/{conversation_id}/messages") is Family.MESSAGES
    assert family_of("GET", "/v1/conversations/{conversation_id}") is Family.READS
    assert family_of("POST", "/v1/conversations/{conversation_id}/tags") is Family.WRITES
    assert family_of("PUT", "/v1/consent/settings") is Family.ADMIN
    assert family_of("GET", "/v1/consent/settings") is Family.READS
    assert family_of("PUT", "/v1/agents/{agent}") is Family.ADMIN
    assert family_of("GET", "/v1/webhooks/endpoints") is Family.WEBHOOKS
    assert family_of("POST", "/v1/webhooks/endpoints/{endpoint_id}/rotate") is Family.WEBHOOKS


async def test_two_api_processes_on_postgresql_share_one_budget(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """Two runtimes (two API processes) on one PostgreSQL schema, each with its own
    in-process state, asked at once: together they admit the burst, not twice it."""
    burst = 10
    settings = limited(
        make_settings(StoreKind.POSTGRES, tmp_path / "a", postgres_dsn),
        reads=0.001,  # no token comes back during the test
        reads_burst=burst,
    )
    first = Runtime(settings)
    second = Runtime(settings.model_copy(update={"data_dir": tmp_path / "b"}))
    try:
        brand = register(first, "acme")
        other_key = first.core.api_keys.issue(brand.id, "other")
        async with client(first, brand.key) as one, client(second, brand.key) as two:
            answers = await asyncio.gather(
                *(api.get("/v1/conversations") for api in (one, two) * 12)
            )
            statuses = [answer.status_code for answer in answers]
            assert statuses.count(200) == burst, statuses
            assert statuses.count(429) == 24 - burst, statuses
            served = [sum(a.status_code == 200 for a in answers[i::2]) for i in (0, 1)]
            assert all(n > 0 for n in served), served  # both processes took from the budget
        async with client(second, other_key) as other:  # another key: its own budget
            assert (await other.get("/v1/conversations")).status_code == 200
        # the keys' last uses, written by either process, are in the shared store
        key_ids = [split_api_key(brand.key), split_api_key(other_key)]
        assert set(first.key_usage.last_used(k for k in key_ids if k)) == set(key_ids)
    finally:
        first.close()
        second.close()
