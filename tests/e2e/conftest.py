"""The API in process: a registered brand, and an HTTP client holding its key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chainon.api.app import create_app
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey, register


@pytest.fixture
def brand(sqlite_runtime: Runtime) -> BrandWithKey:
    return register(sqlite_runtime)


@pytest.fixture
async def api(sqlite_runtime: Runtime, brand: BrandWithKey) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=sqlite_runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {brand.key}"},
    ) as client:
        yield client
