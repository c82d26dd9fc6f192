"""Workers started at the same moment on an empty PostgreSQL schema all come up: the
catalogue collisions of concurrent ``CREATE … IF NOT EXISTS`` / ``CREATE OR REPLACE
FUNCTION`` are retried, not fatal (the distributed benchmark met them)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chainon.core import Core
from chainon.event_store import racing_creation, store_env
from chainon.settings import StoreKind
from tests.conftest import make_settings


@pytest.mark.postgres
def test_four_cores_created_at_once_on_an_empty_schema_all_start(
    tmp_path: Path, postgres_dsn: str
) -> None:
    settings = make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn)
    env = {**store_env(settings), "SINGLE_ROW_TRACKING": "y"}
    barrier = threading.Barrier(4)
    cores: list[Core] = []
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            cores.append(racing_creation(lambda: Core(env)))
        except BaseException as exc:  # collected: the assertion shows it
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert failures == []
        assert len(cores) == 4
        assert cores[0].recorder.max_notification_id() in (None, 0)
    finally:
        for core in cores:
            core.close()
