"""Every process of Chainon runs its asyncio loop on uvloop.

The send path's profile showed a fifth of the interpreter's time in the event loop and
HTTP parsing (asyncio's selector loop, h11); uvloop (libuv) and httptools do that work in
C. uvicorn picks both up by itself when it owns the loop; the processes that start their
own loop (workers, the demo, the benchmark) start it here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
