"""API key hygiene (issue 20): keys compared in constant time, an optional expiry chosen at
issue time (an expired key answers 401 naming it), and when each key was last used,
recorded at most once a minute and shown by ``chainon brands keys``."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from eventsourcing.persistence import StoredEvent

from chainon.api.app import create_app
from chainon.auth import hash_api_key, split_api_key
from chainon.core import Core
from chainon.domain.brand import Brand
from chainon.domain.errors import InvalidInput
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import make_settings, register
from tests.e2e.conftest import Run, api_key, refused

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    runtime.core.clock = Clock()
    try:
        yield runtime
    finally:
        runtime.close()


def client(runtime: Runtime, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
    )


def clock_of(runtime: Runtime) -> Clock:
    clock = runtime.core.clock
    assert isinstance(clock, Clock)
    return clock


@pytest.mark.asyncio
async def test_an_expired_key_answers_401_naming_its_expiry(runtime: Runtime) -> None:
    brand = register(runtime, "acme")
    expires_at = T0 + timedelta(hours=1)
    key = runtime.core.api_keys.issue(brand.id, "ci", expires_at=expires_at)
    async with client(runtime, key) as api, client(runtime, brand.key) as forever:
        assert (await api.get("/v1/conversations")).status_code == 200  # now remembered

        clock_of(runtime).now = expires_at
        expired = await api.get("/v1/conversations")
        assert expired.status_code == 401
        assert expired.headers["content-type"] == "application/problem+json"
        key_id = split_api_key(key)
        assert expired.json()["detail"] == (f"API key {key_id} expired at {expires_at.isoformat()}")
        assert "invalid_token" in expired.headers["WWW-Authenticate"]
        # read again from the store (not the cache): still refused
        runtime.core.api_keys.cache.forget_brand(brand.id)
        assert (await api.get("/v1/conversations")).status_code == 401
        # a key issued without an expiry goes on working
        assert (await forever.get("/v1/conversations")).status_code == 200


def test_a_key_cannot_expire_before_it_is_issued(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        brand = register(runtime, "acme")
        with pytest.raises(InvalidInput) as refusal:
            runtime.core.api_keys.issue(brand.id, "ci", expires_at=datetime(2000, 1, 1, tzinfo=UTC))
        assert refusal.value.field == "expires_at"
    finally:
        runtime.close()


def test_a_v1_key_issued_before_expiries_loads_as_a_key_that_never_expires() -> None:
    core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    brand_id = uuid4()
    when = {"_type_": "datetime_iso", "_data_": T0.isoformat()}
    key = "chn_0123456789ab_secret"
    events = [
        (
            "chainon:Brand.Registered",
            {
                "originator_topic": "chainon:Brand",
                "slug": "acme",
                "name": "Acme",
                "help_text": "",
                "channel_order": ["rcs", "sms", "email"],
                "reopen_window_hours": 168,
                "smart_encoding": False,
            },
        ),
        # exactly what v1 wrote: no expires_at, no class_version
        (
            "chainon:Brand.ApiKeyIssued",
            {"key_id": "0123456789ab", "key_hash": hash_api_key(key), "label": "old"},
        ),
    ]
    core.recorder.insert_events(
        [
            StoredEvent(
                originator_id=brand_id,
                originator_version=n,
                topic=topic,
                state=json.dumps({"timestamp": when, **state}).encode(),
            )
            for n, (topic, state) in enumerate(events, start=1)
        ]
    )
    brand = core.get(Brand, brand_id)
    assert brand.api_keys["0123456789ab"][1] == "old"
    assert brand.key_expiry == {}
    assert brand.accepts_key("0123456789ab", hash_api_key(key))
    (issued,) = [e for e in core.events.get(brand_id) if isinstance(e, Brand.ApiKeyIssued)]
    assert issued.expires_at is None


def test_keys_are_compared_in_constant_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        brand = register(runtime, "acme")
        compared: list[tuple[str, str]] = []
        original: Callable[[str, str], bool] = hmac.compare_digest

        def spy(a: str, b: str) -> bool:
            compared.append((a, b))
            return original(a, b)

        monkeypatch.setattr(hmac, "compare_digest", spy)
        key_id = split_api_key(brand.key)
        assert key_id is not None
        wrong = f"chn_{key_id}_{'x' * 32}"
        assert runtime.core.api_keys.authenticate(wrong) is None
        expected = {hash_api_key(wrong), hash_api_key(brand.key)}
        assert any(set(pair) == expected for pair in compared), compared
        assert runtime.core.api_keys.authenticate(brand.key) is not None
    finally:
        runtime.close()


@pytest.mark.asyncio
async def test_last_use_is_recorded_at_most_once_a_minute(runtime: Runtime) -> None:
    brand = register(runtime, "acme")
    key_id = split_api_key(brand.key)
    assert key_id is not None
    clock = clock_of(runtime)
    writes: list[str] = []
    table = runtime.key_usage.table
    original = table.write

    def counted(key: str, at: datetime) -> None:
        writes.append(key)
        original(key, at)

    table.write = counted  # type: ignore[method-assign]
    assert runtime.key_usage.last_used([key_id]) == {}
    async with client(runtime, brand.key) as api:
        for _ in range(5):
            assert (await api.get("/v1/conversations")).status_code == 200
        assert runtime.key_usage.last_used([key_id]) == {key_id: T0}
        clock.now = T0 + timedelta(seconds=59)
        assert (await api.get("/v1/conversations")).status_code == 200
        assert runtime.key_usage.last_used([key_id]) == {key_id: T0}
        clock.now = T0 + timedelta(seconds=61)
        assert (await api.get("/v1/conversations")).status_code == 200
    assert runtime.key_usage.last_used([key_id]) == {key_id: T0 + timedelta(seconds=61)}
    assert writes == [key_id, key_id]  # two writes for seven requests


def test_the_cli_issues_a_key_with_an_expiry_and_shows_last_use(
    chainon: Run, acme: str, data_dir: Path
) -> None:
    issued = chainon("brands", "keys", "acme", "--issue", "ci", "--expires-in", "30d")
    assert issued.exit_code == 0, issued.output
    key_id = api_key(issued.stdout).split("_")[1]
    expected = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    assert re.search(rf"{key_id}\s+│ ci\s+│ no\s+│ {expected}T\S+\s+│ never", issued.stdout), (
        issued.stdout
    )
    first = acme.split("_")[1]
    assert re.search(rf"{first}\s+│ first\s+│ no\s+│ never\s+│ never", issued.stdout)

    at = chainon("brands", "keys", "acme", "--issue", "cd", "--expires-at", "2099-01-01")
    assert at.exit_code == 0, at.output
    assert "2099-01-01T00:00" in at.stdout

    # a use recorded by the server (another process) shows in the table
    from chainon.key_usage import SQLiteUsage

    SQLiteUsage(data_dir / "api-keys.sqlite3").write(first, datetime(2026, 5, 4, 8, 30, tzinfo=UTC))
    listed = chainon("brands", "keys", "acme")
    assert re.search(rf"{first}\s+│ first\s+│ no\s+│ never\s+│ 2026-05-04T08:30", listed.stdout), (
        listed.stdout
    )


def test_the_cli_refuses_a_malformed_expiry(chainon: Run, acme: str) -> None:
    bad = chainon("brands", "keys", "acme", "--issue", "ci", "--expires-in", "soon")
    assert bad.exit_code == 2, bad.output
    assert "--expires-in" in bad.stderr
    assert "30d" in bad.stderr
    past = refused(chainon("brands", "keys", "acme", "--issue", "ci", "--expires-at", "2001-01-01"))
    assert past == "error: expires_at: a key must expire after it is issued"
