"""The process tree's supervision, with stand-in children (a few lines of Python each): a
child that keeps dying makes the tree give up; one that never gets ready stops the start;
a child's word that it published reaches the parent; the parent's metrics take in a
child's, and go without those of a child that does not answer."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chainon.errors import CannotStart
from chainon.observability import REGISTRY
from chainon.process_tree import ProcessTree, RestartPolicy
from chainon.roles import Role
from chainon.tree_metrics import MISSED

# The tree appends --ready-fd N --wake-fd M --metrics-fd K to the command.
READY = "import os, sys, time; a = sys.argv; ready = int(a[a.index('--ready-fd') + 1]); "
DIES = READY + "os.write(ready, b'!'); sys.exit(3)"
NEVER_READY = "import sys; sys.exit(4)"
WAKE = "wake = int(a[a.index('--wake-fd') + 1]); "
# Ready; then, woken by the parent's save, it publishes (and says so).
PUBLISHES = (
    READY + WAKE + "os.write(ready, b'!'); os.read(wake, 1); os.write(ready, b'!'); time.sleep(60)"
)
# Ready, and answers the parent's scrapes with a registry of its own.
ANSWERS = (
    READY
    + "import asyncio; from prometheus_client import CollectorRegistry, Counter; "
    + "from chainon.tree_metrics import answer; r = CollectorRegistry(); "
    + "Counter('chainon_relay_events_total', 'Events the relay published.', registry=r).inc(7)\n"
    + "async def main():\n"
    + "    answer(int(a[a.index('--metrics-fd') + 1]), asyncio.get_running_loop(), r)\n"
    + "    os.write(ready, b'!'); await asyncio.sleep(60)\n"
    + "asyncio.run(main())"
)
SILENT = READY + "os.write(ready, b'!'); time.sleep(60)"  # never reads the metrics' fd
VIEWS = frozenset({Role.VIEWS})
RELAY = frozenset({Role.RELAY})


def restarts() -> float:
    found = REGISTRY.get_sample_value("chainon_embedded_child_restarts_total", {"role": "views"})
    return found or 0.0


def python(script: str) -> list[str]:
    return [sys.executable, "-c", script]


async def test_a_child_that_keeps_dying_makes_the_tree_give_up() -> None:
    given_up = asyncio.Event()
    before = restarts()
    tree = ProcessTree(
        [VIEWS],
        give_up=given_up.set,
        command=lambda roles: python(DIES),
        policy=lambda: RestartPolicy(limit=2, window=60.0),
    )
    await tree.start()
    await asyncio.wait_for(given_up.wait(), 60)
    await tree.stop()
    assert tree.gave_up
    assert restarts() - before == 2  # the third death: no more


async def test_a_child_that_ends_before_it_is_ready_stops_the_start() -> None:
    tree = ProcessTree([VIEWS], give_up=lambda: None, command=lambda roles: python(NEVER_READY))
    with pytest.raises(CannotStart, match="ended before it was ready"):
        await tree.start(within=60)


async def test_what_a_child_published_wakes_the_parent_and_sigterm_stops_it() -> None:
    heard = asyncio.Queue[None]()

    async def published() -> None:
        heard.put_nowait(None)

    tree = ProcessTree(
        [VIEWS], give_up=lambda: None, command=lambda roles: python(PUBLISHES), published=published
    )
    await tree.start()
    await asyncio.wait_for(heard.get(), 30)  # its ready byte
    tree.saved()  # the core saved: the child wakes, and publishes
    await asyncio.wait_for(heard.get(), 30)
    [child] = tree.children
    assert child.process is not None
    await tree.stop(grace=10)
    assert child.process.returncode == -15  # SIGTERM, not the SIGKILL after the grace
    assert not tree.gave_up


def missed(role: str, reason: str) -> float:
    labels = {"role": role, "reason": reason}
    return REGISTRY.get_sample_value("chainon_embedded_child_metrics_missed_total", labels) or 0.0


async def test_the_parents_metrics_take_in_a_childs_and_go_without_a_silent_ones() -> None:
    scripts = {RELAY: ANSWERS, VIEWS: SILENT}
    tree = ProcessTree(
        [RELAY, VIEWS], give_up=lambda: None, command=lambda roles: python(scripts[roles])
    )
    before = missed("views", "timeout")
    MISSED.labels(role="relay", reason="timeout")  # so that the parent has the family too
    await tree.start()
    try:
        began = time.monotonic()
        text = (await tree.metrics(within=0.5)).decode()
        assert time.monotonic() - began < 5  # the silent child held the scrape 0.5 s only
        found = {f.name: f for f in text_string_to_metric_families(text)}
        relayed = {
            s.labels.get("process", "parent"): s.value
            for s in found["chainon_relay_events"].samples
            if s.name.endswith("_total")
        }
        assert relayed.keys() == {"parent", "child:relay"}  # the parent's without a label
        assert relayed["child:relay"] == 7.0
        assert not any(
            s.labels.get("process") == "child:views" for f in found.values() for s in f.samples
        )
        assert missed("views", "timeout") - before == 1
        assert text.count("# TYPE chainon_embedded_child_metrics_missed_total ") == 1

        [_, silent] = tree.children
        assert silent.process is not None
        silent.process.kill()
        silent.process.wait()
        starting = missed("views", "starting")
        await tree.metrics(within=0.5)  # the dead child is not asked; a new one not yet
        assert missed("views", "starting") - starting == 1
    finally:
        await tree.stop(grace=5)
