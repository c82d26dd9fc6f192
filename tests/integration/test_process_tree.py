"""The process tree's supervision, with stand-in children (a few lines of Python each): a
child that keeps dying makes the tree give up; one that never gets ready stops the start;
a child's word that it published reaches the parent."""

from __future__ import annotations

import asyncio
import sys

import pytest

from chainon.errors import CannotStart
from chainon.observability import REGISTRY
from chainon.process_tree import ProcessTree, RestartPolicy
from chainon.roles import Role

# The tree appends --ready-fd N --wake-fd M to the command.
READY = "import os, sys, time; a = sys.argv; ready = int(a[a.index('--ready-fd') + 1]); "
DIES = READY + "os.write(ready, b'!'); sys.exit(3)"
NEVER_READY = "import sys; sys.exit(4)"
WAKE = "wake = int(a[a.index('--wake-fd') + 1]); "
# Ready; then, woken by the parent's save, it publishes (and says so).
PUBLISHES = (
    READY + WAKE + "os.write(ready, b'!'); os.read(wake, 1); os.write(ready, b'!'); time.sleep(60)"
)
VIEWS = frozenset({Role.VIEWS})


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
