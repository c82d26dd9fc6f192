"""Gauges an operator alerts on that no single event moves: whether each SMPP link is
bound, and how many waiting conversations are past their first-response SLA.

A link's state is read from the provider when Prometheus scrapes (a counter of binds
would not say whether the link is up now). Breaches depend on the clock, not only on the
facts (a conversation breaches by waiting), so the views role counts them from the agent
queue every ``SLA_EVERY`` seconds, on the pool's threads where the read models are used.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog
from prometheus_client import Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chainon.observability import REGISTRY

log = structlog.get_logger(__name__)
SLA_EVERY = 15.0  # seconds; Prometheus' usual scrape interval

SLA_BREACHED = Gauge(
    "chainon_queue_sla_breached",
    "Waiting conversations past their first-response SLA, by brand (the views role's count).",
    ["brand"],
    registry=REGISTRY,
)


class Link(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def bound(self) -> bool: ...


class LinkStates(Collector):
    """``chainon_smpp_link_up{link}``: 1 while bound, 0 while Chainon is rebinding."""

    def __init__(self) -> None:
        self.links: dict[int, Link] = {}

    def watch(self, links: Sequence[Link]) -> None:
        self.links.update({id(link): link for link in links})

    def forget(self, links: Sequence[Link]) -> None:
        for link in links:
            self.links.pop(id(link), None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "chainon_smpp_link_up", "1 while the SMPP link is bound, 0 while not.", labels=["link"]
        )
        for link in list(self.links.values()):
            up.add_metric([link.name], 1.0 if link.bound else 0.0)
        yield up


LINKS = LinkStates()
REGISTRY.register(LINKS)


async def count_breaches(
    count: Callable[[datetime], list[tuple[str, int]]],
    call: Callable[..., Awaitable[Any]],
    clock: Callable[[], datetime],
    stopping: asyncio.Event,
    every: float = SLA_EVERY,
) -> None:
    """Sets the gauge from ``count`` (brand id, breached) until ``stopping``; a brand that
    had breaches and has none now is set to 0, not left at its last figure."""
    shown: set[str] = set()
    while not stopping.is_set():
        try:
            counts = dict(await call(count, clock()))
            for brand in shown - counts.keys():
                SLA_BREACHED.labels(brand=brand).set(0)
            for brand, breached in counts.items():
                SLA_BREACHED.labels(brand=brand).set(breached)
            shown |= counts.keys()
        except Exception as exc:  # the read models are away: the next round tries again
            log.warning("metrics.sla_count_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), every)
