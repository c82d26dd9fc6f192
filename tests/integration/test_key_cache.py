"""Accepted API keys are remembered briefly; a revocation still applies: at once through
this process, within the time to live through another."""

from __future__ import annotations

from pathlib import Path

from chainon.auth import split_api_key
from chainon.core import Core
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def core_on(path: Path, seconds: float) -> Core:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    return Core(env, key_cache_seconds=seconds)


def brand_with_key(core: Core) -> tuple[Brand, str]:
    brand = core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    return brand, core.api_keys.issue(brand.id, "ci")


def test_a_key_revoked_through_this_process_is_refused_at_once(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3", seconds=60)
    brand, key = brand_with_key(core)
    assert core.api_keys.authenticate(key) is not None
    assert core.api_keys.remembered(key) is not None  # the next request needs no store read

    key_id = split_api_key(key)
    assert key_id is not None
    core.api_keys.revoke(brand.id, key_id)

    assert core.api_keys.remembered(key) is None
    assert core.api_keys.authenticate(key) is None


def test_a_key_revoked_through_another_process_is_refused_once_the_ttl_passed(
    tmp_path: Path,
) -> None:
    server = core_on(tmp_path / "store.sqlite3", seconds=5)
    clock = Clock()
    server.api_keys.cache.clock = clock
    brand, key = brand_with_key(server)
    assert server.api_keys.authenticate(key) is not None

    elsewhere = core_on(tmp_path / "store.sqlite3", seconds=0)  # the CLI, say
    key_id = split_api_key(key)
    assert key_id is not None
    elsewhere.api_keys.revoke(brand.id, key_id)

    clock.now += 4.9
    assert server.api_keys.authenticate(key) is not None  # still remembered: the documented window
    clock.now += 0.2
    assert server.api_keys.authenticate(key) is None


def test_with_no_ttl_nothing_is_remembered(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3", seconds=0)
    _, key = brand_with_key(core)
    assert core.api_keys.authenticate(key) is not None
    assert core.api_keys.remembered(key) is None
