"""Measurements by name, and the context each one is run with.

A measurement is a function of a ``Context`` returning a ``Result`` (sync or async). It is
a *limit* (what the machine does with no Chainon in the way), a *baseline* (plain
``eventsourcing``) or a *scenario* (Chainon itself, in one mode). It says which services
it needs; the runner starts only those.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.result import Result

if TYPE_CHECKING:
    from bench.cpu import Stages
    from chainon.settings import Settings


class Kind(StrEnum):
    LIMIT = "limit"
    BASELINE = "baseline"
    SCENARIO = "scenario"


class Service(StrEnum):
    POSTGRES = "postgres"
    KAFKA = "kafka"
    SMSC = "smsc"


MODES = ("embedded", "distributed")
# A scenario's variants of a mode, run when the mode is selected: the distributed mode with
# two core worker processes (keyed ``…@distributed-2core``) beside its default of one.
TWO_CORES = "distributed-2core"
# The embedded mode as ``chainon serve`` runs it by default: the core and the API in one
# process, the views, relay and dispatch in a child it supervises (keyed ``…@embedded-tree``);
# plain ``embedded`` is one process playing every role (``CHAINON_EMBEDDED_PROCESSES=1``).
PROCESS_TREE = "embedded-tree"


def family(mode: str) -> str:
    """The mode a variant belongs to (``distributed-2core`` → ``distributed``,
    ``embedded-tree`` → ``embedded``)."""
    return mode.split("-", 1)[0]


@dataclass(frozen=True)
class Counts:
    """How much each measurement does, by size of run."""

    rows: int  # raw inserts, 100 per transaction
    records: int  # Kafka records produced, then consumed
    submits: int  # submit_sm through the bare SMPP client
    messages: int  # inbound messages, for baselines and scenarios
    conversations: int  # the messages spread over this many conversations
    sends: int  # outbound messages, each with its delivery receipt back
    steady_rate: int  # inbound messages a second, for the steady load
    steady_seconds: int  # for this long
    rebuild_events: int  # at least this many events in the store a rebuild reads
    long_messages: int  # one at a time into one conversation, then spread
    long_conversations: int  # the second time, over this many conversations


SIZES = {
    "full": Counts(
        rows=100_000,
        records=100_000,
        submits=50_000,
        messages=50_000,
        conversations=5_000,
        sends=20_000,
        steady_rate=1_000,
        steady_seconds=60,
        rebuild_events=200_000,
        long_messages=10_000,
        long_conversations=1_000,
    ),
    "quick": Counts(
        rows=20_000,
        records=20_000,
        submits=10_000,
        messages=5_000,
        conversations=500,
        sends=2_000,
        steady_rate=200,
        steady_seconds=15,
        rebuild_events=20_000,
        long_messages=2_000,
        long_conversations=200,
    ),
    "tiny": Counts(
        rows=500,
        records=500,
        submits=200,
        messages=60,
        conversations=12,
        sends=30,
        steady_rate=20,
        steady_seconds=2,
        rebuild_events=400,
        long_messages=40,
        long_conversations=4,
    ),
}

ROW_BYTES = 600  # the size of a stored event (a MessageReceived is 450-600 bytes)
ROWS_PER_TRANSACTION = 100


@dataclass(frozen=True)
class Smsc:
    host: str
    port: int
    system_id: str
    password: str


@dataclass
class Context:
    """What a measurement is given: its counts, a directory of its own, the services."""

    size: str
    mode: str
    data_dir: Path
    postgres_dsn: str | None = None
    kafka_bootstrap: str | None = None
    smsc: Smsc | None = None
    servers: dict[str, int] = field(default_factory=dict)  # the servers' PIDs, by name
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    # The throughput of each measurement that ran before this one in the same run, by key
    # (``inbound-burst@embedded``): a scenario may set its load from another's figure.
    measured: dict[str, float] = field(default_factory=dict)

    @property
    def counts(self) -> Counts:
        return SIZES[self.size]

    @property
    def distributed(self) -> bool:
        return family(self.mode) == "distributed"

    @property
    def core_workers(self) -> int:
        """How many core worker processes a distributed scenario runs."""
        return 2 if self.mode == TWO_CORES else 1

    def stages(self, *, threads: bool = True) -> Stages:
        """Counts the CPU of this process, its workers and the servers over a window."""
        from bench.cpu import Stages

        return Stages(self.servers, threads=threads)

    def require_postgres(self) -> str:
        if self.postgres_dsn is None:
            raise RuntimeError("this measurement needs PostgreSQL, and none was started")
        return self.postgres_dsn

    def require_kafka(self) -> str:
        if self.kafka_bootstrap is None:
            raise RuntimeError("this measurement needs Kafka, and no broker was started")
        return self.kafka_bootstrap

    def fresh_schema(self) -> str:
        """A new, empty PostgreSQL schema, so that no measurement sees another's rows."""
        import psycopg

        schema = f"b_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.require_postgres(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return schema

    def settings(self, **overrides: Any) -> Settings:
        """Chainon's settings for this mode: the defaults, on this context's store and bus."""
        from chainon.rate_limits import Family
        from chainon.settings import BusKind, Settings, StoreKind

        options: dict[str, Any] = {"data_dir": self.data_dir, "demo_brand": False}
        # The bench measures what the core takes, not a key's rate limit: lifted (a rate of
        # 0), its cost left out with it.
        options |= {f"rate_limit_{family.value}": 0 for family in Family}
        if self.distributed:
            options |= {
                "store": StoreKind.POSTGRES,
                "postgres_dsn": self.require_postgres(),
                "postgres_schema": self.fresh_schema(),
                "bus": BusKind.KAFKA,
                "kafka_bootstrap": self.require_kafka(),
                "topic_prefix": f"bench{uuid.uuid4().hex[:8]}",
            }
        options |= self.settings_overrides | overrides
        return Settings(**options)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["data_dir"] = str(self.data_dir)
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Context:
        fields = dict(document)
        fields["data_dir"] = Path(fields["data_dir"])
        fields["smsc"] = Smsc(**fields["smsc"]) if fields.get("smsc") else None
        return cls(**fields)


Run = Callable[[Context], Result | Awaitable[Result]]


@dataclass(frozen=True)
class Measurement:
    name: str
    kind: Kind
    run: Run
    modes: tuple[str, ...] = ("raw",)
    needs: frozenset[Service] = frozenset()
    summary: str = ""

    def key(self, mode: str) -> str:
        return self.name if mode == "raw" else f"{self.name}@{mode}"

    def needs_in(self, mode: str) -> frozenset[Service]:
        """The servers a run in ``mode`` needs: the distributed mode always runs on
        PostgreSQL and Kafka."""
        if family(mode) == "distributed":
            return self.needs | {Service.POSTGRES, Service.KAFKA}
        return self.needs


REGISTRY: dict[str, Measurement] = {}


def measurement(
    name: str,
    kind: Kind,
    *,
    modes: tuple[str, ...] = ("raw",),
    needs: frozenset[Service] | set[Service] = frozenset(),
) -> Callable[[Run], Run]:
    """Registers a measurement; its docstring's first line is its summary."""

    def register(run: Run) -> Run:
        if name in REGISTRY:
            raise ValueError(f"a measurement {name!r} is registered twice")
        summary = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else ""
        REGISTRY[name] = Measurement(name, kind, run, modes, frozenset(needs), summary)
        return run

    return register


def load() -> dict[str, Measurement]:
    """Every registered measurement (importing the modules registers them)."""
    import bench.baseline
    import bench.limits.kafka
    import bench.limits.postgres
    import bench.limits.smpp
    import bench.limits.sqlite
    import bench.scenarios.campaign
    import bench.scenarios.inbound_burst
    import bench.scenarios.long_conversation
    import bench.scenarios.outbound_receipts
    import bench.scenarios.rebuild
    import bench.scenarios.send_core
    import bench.scenarios.send_smpp
    import bench.scenarios.steady_load  # noqa: F401

    return REGISTRY
