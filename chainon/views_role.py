"""What the views role runs beside its read models: the schedulers that act when a deadline
they hold comes due (an RCS fallback, a receipt never sent, a bot's question nobody
answered, a quiet-hours release) and the SLA gauge. Apart from the runtime, which only
starts them where the read models are fed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, NamedTuple

from chainon import ops_metrics
from chainon.adapters.bus.port import Bus
from chainon.deadlines import Call, DeadlineScheduler, enforce_receipt, expire_dialogue
from chainon.projections import (
    agent_queue,
    deferred_messages,
    dialogue_deadlines,
    fallback_deadlines,
    receipt_deadlines,
)
from chainon.projections.read_model_store import ReadModelStore
from chainon.releases import ReleaseScheduler
from chainon.topics import Topics


class Schedulers(NamedTuple):
    fallback: DeadlineScheduler
    receipt: DeadlineScheduler
    dialogue: DeadlineScheduler
    release: ReleaseScheduler


def schedulers(
    store: Callable[[], ReadModelStore], call: Call, bus: Bus, topics: Topics, interval: float
) -> Schedulers:
    """Each reads its deadlines from the views (on the pool's threads, which open them) and
    hands what is due to the core as a command on the bus."""
    return Schedulers(
        fallback=DeadlineScheduler(
            lambda now, limit: fallback_deadlines.due(store(), now, limit),
            call,
            bus,
            topics,
            interval=interval,
        ),
        receipt=DeadlineScheduler(
            lambda now, limit: receipt_deadlines.due(store(), now, limit),
            call,
            bus,
            topics,
            interval=interval,
            enforce=enforce_receipt,
            name="receipt",
        ),
        dialogue=DeadlineScheduler(  # the dialogue times out: hands off or closes
            lambda now, limit: dialogue_deadlines.due(store(), now, limit),
            call,
            bus,
            topics,
            interval=interval,
            enforce=expire_dialogue,
            name="dialogue",
        ),
        release=ReleaseScheduler(  # messages quiet hours hold, released when it opens
            lambda now, limit: deferred_messages.due(store(), now, limit),
            call,
            bus,
            topics,
            interval=interval,
            name="release",
        ),
    )


def runs(
    found: Schedulers,
    store: Callable[[], ReadModelStore],
    call: Call,
    clock: Callable[[], datetime],
    stopping: asyncio.Event,
    interval: float,
) -> dict[str, Coroutine[Any, Any, None]]:
    """The role's loops by task name, each ending when ``stopping`` is set."""
    loops: dict[str, Coroutine[Any, Any, None]] = {
        f"{scheduler.name}-deadlines": scheduler.run(stopping) for scheduler in found
    }
    loops["sla-metrics"] = ops_metrics.count_breaches(
        lambda now: agent_queue.breached_by_brand(store(), now),
        call,
        clock,
        stopping,
        every=min(ops_metrics.SLA_EVERY, interval * 30),
    )
    return loops
