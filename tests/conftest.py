"""Fixtures shared by every suite: settings on a fresh store, a running runtime, a brand."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import hypothesis  # noqa: F401  (imported here, not lazily at the end of a run: see below)
import pytest

from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind

# hypothesis' pytest plugin imports hypothesis in its terminal summary when no test did;
# rewriting its modules that deep in the stack trips CPython 3.11.7's AST recursion check
# ("AST constructor recursion depth mismatch") and fails a run whose tests all passed.

ROOT = Path(__file__).resolve().parent.parent
PG_SCRIPT = ROOT / "infra" / "postgres" / "pg.sh"

BRAND_SMS = "+33939000001"  # a French conversational (Time2chat-style) 09 number
BRAND_EMAIL = "bonjour@maison-lumiere.example"
CONSUMER = "+33612345678"


class SharedServices:
    """PostgreSQL and Kafka started once by xdist's controller for all its workers.

    Each worker would otherwise start its own pair; the controller starts them before the
    workers exist and hands them on through ``CHAINON_TEST_POSTGRES_DSN`` and
    ``CHAINON_TEST_KAFKA_BOOTSTRAP``, which the fixtures below already honour. Tests keep
    their own schema and topic prefix each, so workers never share data."""

    def __init__(self) -> None:
        self.pg_dir: Path | None = None
        self.kafka_dir: Path | None = None

    def start(self) -> None:
        from devtools.kafka_broker import start_broker

        if "CHAINON_TEST_POSTGRES_DSN" not in os.environ:
            self.pg_dir = Path(tempfile.mkdtemp(prefix="chainon-pg-"))
            started = subprocess.run(
                ["bash", str(PG_SCRIPT), "start", str(self.pg_dir)],
                capture_output=True,
                text=True,
            )
            if started.returncode != 0:
                raise pytest.UsageError(f"PostgreSQL did not start:\n{started.stderr}")
            os.environ["CHAINON_TEST_POSTGRES_DSN"] = started.stdout.strip().splitlines()[-1]
        if "CHAINON_TEST_KAFKA_BOOTSTRAP" not in os.environ:
            self.kafka_dir = Path(tempfile.mkdtemp(prefix="chainon-kafka-"))
            try:
                bootstrap, _pid = start_broker(self.kafka_dir / "broker")
            except RuntimeError as exc:
                raise pytest.UsageError(f"Kafka did not start:\n{exc}") from None
            os.environ["CHAINON_TEST_KAFKA_BOOTSTRAP"] = bootstrap

    def stop(self) -> None:
        from devtools.kafka_broker import stop_broker

        if self.kafka_dir is not None:
            stop_broker(self.kafka_dir / "broker")
            shutil.rmtree(self.kafka_dir, ignore_errors=True)
        if self.pg_dir is not None:
            subprocess.run(["bash", str(PG_SCRIPT), "stop", str(self.pg_dir)], check=False)


def pytest_configure(config: pytest.Config) -> None:
    """With ``-n`` (xdist), the controller starts the servers its workers share."""
    controller = not hasattr(config, "workerinput")
    if controller and (config.getoption("numprocesses", None) or 0):
        services = SharedServices()
        config.stash[SERVICES] = services
        services.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    services = config.stash.get(SERVICES, None)
    if services is not None:
        services.stop()


SERVICES = pytest.StashKey[SharedServices]()

# The slowest tests (one to five minutes each on two cores: they start servers, worker sets
# or process trees), run first: handed out two at a time (``--maxschedchunk 2``), they
# spread over both workers, and the run does not end on one of them alone.
SLOW_FIRST = (
    "tests/integration/test_bench.py",
    "tests/integration/test_views_runner.py",
    "tests/e2e/test_distributed_set.py",
    "tests/e2e/test_campaign_restart.py",
    "tests/e2e/test_process_tree.py",
    "tests/e2e/test_campaign_distributed.py",
    "tests/integration/test_kafka_faults.py",
    "tests/e2e/test_backup_restore.py",
    "tests/e2e/test_upgrade.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        found = [i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)]
        return found[0] if found else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the rest as collected


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throw-away PostgreSQL for the whole run, started here and stopped by its PID.

    ``CHAINON_TEST_POSTGRES_DSN`` points the tests at a server you already run instead.
    If the server cannot start, the tests that need it fail: they never skip.
    """
    given = os.environ.get("CHAINON_TEST_POSTGRES_DSN")
    if given:
        yield given
        return
    directory = Path(tempfile.mkdtemp(prefix="chainon-pg-"))
    started = subprocess.run(
        ["bash", str(PG_SCRIPT), "start", str(directory)], capture_output=True, text=True
    )
    if started.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start:\n{started.stderr}", pytrace=False)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(PG_SCRIPT), "stop", str(directory)], check=False)


@pytest.fixture(scope="session")
def kafka_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="chainon-kafka-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_dir: Path) -> Iterator[str]:
    """A real Kafka broker (KRaft, single node) for the whole run, stopped by its PID.

    ``CHAINON_TEST_KAFKA_BOOTSTRAP`` points the tests at a broker you already run instead.
    If the broker cannot start, the tests that need it fail: they never skip.
    """
    given = os.environ.get("CHAINON_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    from devtools.kafka_broker import start_broker, stop_broker

    try:
        bootstrap, _pid = start_broker(kafka_dir / "broker")
    except RuntimeError as exc:
        pytest.fail(f"Kafka did not start:\n{exc}", pytrace=False)
    try:
        yield bootstrap
    finally:
        stop_broker(kafka_dir / "broker")


def fresh_schema(dsn: str) -> str:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def make_settings(store: StoreKind, data_dir: Path, postgres_dsn: str | None = None) -> Settings:
    options: dict[str, object] = {
        "store": store,
        "data_dir": data_dir,
        "sandbox_receipt_delay": 0.05,
        "relay_poll_interval": 0.02,
        "log_json": False,
        "demo_brand": False,
    }
    if store is StoreKind.POSTGRES:
        assert postgres_dsn is not None
        options["postgres_dsn"] = postgres_dsn
        options["postgres_schema"] = fresh_schema(postgres_dsn)
    return Settings(**options)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return make_settings(StoreKind.SQLITE, tmp_path)


@dataclass
class BrandWithKey:
    brand: Brand
    key: str

    @property
    def id(self) -> uuid.UUID:
        return self.brand.id


def register(runtime: Runtime, slug: str = "maison-lumiere", sms: str = BRAND_SMS) -> BrandWithKey:
    core = runtime.core
    brand = core.register_brand(
        slug=slug,
        name=slug.replace("-", " ").title(),
        senders=[(Channel.SMS, sms), (Channel.EMAIL, f"bonjour@{slug}.example")],
        help_text="Répondez STOP pour ne plus recevoir de messages.",
    )
    return BrandWithKey(brand, core.api_keys.issue(brand.id, "tests"))


@pytest.fixture
async def sqlite_runtime(sqlite_settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime(sqlite_settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
        runtime.close()
