"""CSAT on the conversation and on the CRM profile: the rating a flow collects is the
conversation's ``csat`` and counts once in the contact's ``csat_average``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import BrandWithKey, make_settings
from tests.e2e.flow_helpers import (
    TUESDAY_MORNING,
    client,
    clock_from,
    conversation,
    publish,
    register_bot_brand,
    write,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["sqlite", "postgres"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """Both read-model stores: the profile's average is SQL on each."""
    if request.param == "sqlite":
        settings = make_settings(StoreKind.SQLITE, tmp_path)
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")
        settings = make_settings(StoreKind.POSTGRES, tmp_path, dsn)
    started = Runtime(settings)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
        started.close()


@pytest.fixture
def brand(runtime: Runtime) -> BrandWithKey:
    clock_from(runtime, TUESDAY_MORNING)
    return register_bot_brand(runtime)


@pytest.fixture
async def api(runtime: Runtime, brand: BrandWithKey) -> AsyncIterator[httpx.AsyncClient]:
    async for each in client(runtime, brand.key):
        yield each


async def rated_profile(api: httpx.AsyncClient, contact: str, count: int) -> dict[str, Any]:
    """The profile once the views have applied ``count`` ratings."""
    found: dict[str, Any] = {}
    for _ in range(200):
        answer = await api.get(f"/v1/contacts/{contact}/profile")
        found = answer.json()
        if answer.status_code == 200 and found["csat_count"] == count:
            return found
        await asyncio.sleep(0.025)
    raise AssertionError(f"the profile never showed {count} ratings: {found}")


async def test_the_rating_is_on_the_conversation_and_the_profile(api: httpx.AsyncClient) -> None:
    await publish(api, "csat")
    first = await write(api, "Mon colis est-il parti ?")
    cid, contact = first["conversation_id"], first["contact_id"]
    assert (await conversation(api, cid))["csat"] is None
    unrated = await rated_profile(api, contact, 0)
    assert unrated["csat_average"] is None

    assert (await api.post(f"/v1/conversations/{cid}/resolve", json={"by": "camille"})).is_success
    await write(api, "4")
    assert (await conversation(api, cid))["csat"] == 4
    await write(api, "Non")
    assert (await conversation(api, cid))["csat"] == 4
    once = await rated_profile(api, contact, 1)
    assert once["csat_average"] == 4.0

    await api.post(f"/v1/conversations/{cid}/reopen", json={})
    assert (await api.post(f"/v1/conversations/{cid}/resolve", json={"by": "camille"})).is_success
    await write(api, "1")  # a second survey in the same conversation: its own rating
    assert (await conversation(api, cid))["csat"] == 1
    twice = await rated_profile(api, contact, 2)
    assert twice["csat_average"] == 2.5
    assert twice["attributes"]["csat_score"] == "1"
