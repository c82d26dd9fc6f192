"""What one measurement found: a count over some seconds, latencies, peak memory, extras."""

from __future__ import annotations

import math
import resource
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Extra = float | int | str


@dataclass(frozen=True)
class Latency:
    """Percentiles in milliseconds, nearest-rank, over ``samples`` observations."""

    p50: float
    p95: float
    p99: float
    max: float
    samples: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        if not seconds:
            raise ValueError("no latency samples")
        ordered = sorted(seconds)

        def rank(p: float) -> float:
            return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] * 1000

        return cls(rank(50), rank(95), rank(99), ordered[-1] * 1000, len(ordered))


@dataclass
class Result:
    """One figure: ``count`` ``unit`` in ``seconds``.

    ``limit`` names the raw limit this figure is held against and ``baselines`` the plain
    eventsourcing figures; both are resolved (and the ratios computed) once the whole run
    is in. A raw limit has neither. ``rss`` is the peak resident memory, in bytes, of
    each process involved, by name.
    """

    name: str
    mode: str
    count: int
    seconds: float
    unit: str = "messages"
    latency: Latency | None = None
    latency_of: str = ""  # what one latency sample is (a transaction, a record, a submit)
    limit: str | None = None
    baselines: tuple[str, ...] = ()
    rss: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by stage, timed window
    extra: dict[str, Extra] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # Chainon's, when it ran

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_message(self) -> dict[str, float]:
        """Each stage's CPU time divided by what was counted (a message, an event)."""
        if not self.count:
            return {}
        return {stage: round(s * 1000 / self.count, 4) for stage, s in self.cpu.items()}

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["baselines"] = list(self.baselines)
        document["throughput"] = self.throughput
        document["cpu_ms_per_message"] = self.cpu_ms_per_message
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Result:
        fields = {
            k: v for k, v in document.items() if k not in ("throughput", "cpu_ms_per_message")
        }
        latency = fields.pop("latency", None)
        fields["latency"] = Latency(**latency) if latency else None
        fields["baselines"] = tuple(fields.get("baselines", ()))
        return cls(**fields)


class Missing(AssertionError):
    """A measurement could not account for everything it sent: its figure is void."""


def own_peak_rss() -> int:
    """This process's peak resident memory, in bytes (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
