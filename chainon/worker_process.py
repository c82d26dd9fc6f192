"""One worker process: a single role (core, relay, dispatch, views or webhooks), with
health and metrics; or a child of ``chainon serve`` playing the roles its parent gave it
(its metrics answered to the parent, which serves them with its own).

It stops cleanly on SIGTERM or SIGINT: the batch in hand is finished and committed, and
the consumer leaves its group, so its partitions move to the other workers at once. A
child ignores SIGINT (a Ctrl-C reaches the whole process group: the parent stops its
intake first, then its children) and stops when its parent is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass

import structlog
import uvicorn
from fastapi import FastAPI

from chainon import tree_metrics
from chainon.adapters.bus.embedded import EmbeddedBus
from chainon.api import ops
from chainon.roles import Role
from chainon.runtime import Runtime
from chainon.settings import Settings, warn_unknown_variables

log = structlog.get_logger(__name__)


def health_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title=f"Chainon worker ({', '.join(sorted(runtime.roles))})")
    app.state.runtime = runtime
    app.include_router(ops.router)
    return app


async def run_worker(settings: Settings, role: Role) -> None:
    await run_roles(settings, frozenset({role}))


@dataclass(frozen=True)
class Parent:
    """The ``chainon serve`` a child belongs to, and the pipes between them."""

    pid: int
    ready_fd: int  # written once the roles run
    wake_fd: int  # a byte on it: the parent saved
    metrics_fd: int  # the parent asks for this process's metrics on it


async def run_roles(
    settings: Settings, roles: frozenset[Role], *, parent: Parent | None = None
) -> None:
    """Plays ``roles`` until SIGTERM; with ``parent``, as a child of that process, which
    made the store already and warned about the environment."""
    if parent is None:
        warn_unknown_variables()
    runtime = Runtime(settings, roles=roles, create=parent is None)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    orphaned = None
    if parent is None:
        loop.add_signal_handler(signal.SIGINT, stopping.set)
    else:
        orphaned = asyncio.create_task(_parent_gone(parent.pid, stopping), name="parent-watch")
    role = "+".join(sorted(roles))
    server = None
    server_task = None
    stop_answering = None
    await runtime.start()
    try:
        if settings.worker_port:
            config = uvicorn.Config(
                health_app(runtime),
                host=settings.host,
                port=settings.worker_port,
                log_level="warning",
                lifespan="off",
            )
            server = uvicorn.Server(config)
            server_task = asyncio.create_task(server.serve())
        log.info(
            "worker.started",
            role=role,
            bus=settings.bus.value,
            store=settings.store.value,
            health_port=settings.worker_port or None,
        )
        if parent is not None:
            _answer(parent, runtime, loop)
            stop_answering = tree_metrics.answer(parent.metrics_fd, loop)
        await stopping.wait()
        log.info("worker.stopping", role=role)
    finally:
        await runtime.stop()
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await server_task
        runtime.close()
        if stop_answering is not None:
            stop_answering()
        if orphaned is not None and parent is not None:
            orphaned.cancel()
            loop.remove_reader(parent.wake_fd)
            os.close(parent.ready_fd)
        log.info("worker.stopped", role=role)


async def _parent_gone(parent: int, stopping: asyncio.Event) -> None:
    """A child whose parent was killed (no SIGTERM passed on) stops of its own accord."""
    while True:
        await asyncio.sleep(0.5)
        if os.getppid() != parent:
            break
    log.warning("worker.orphaned", parent=parent)
    stopping.set()


def _answer(parent: Parent, runtime: Runtime, loop: asyncio.AbstractEventLoop) -> None:
    """Tells the parent the roles run, then each time this process published where the
    embedded log's doorbell cannot (its core looks at once); from now on, wakes the roles
    here when the parent saves."""
    os.set_blocking(parent.ready_fd, False)

    def tell() -> None:
        with contextlib.suppress(OSError):  # full: it has a byte to read; gone: see the watch
            os.write(parent.ready_fd, b"!")

    tell()
    if isinstance(runtime.bus, EmbeddedBus) and not runtime.bus.rings_others:
        runtime.bus.published_listeners.append(tell)  # the log's doorbell cannot tell it
    os.set_blocking(parent.wake_fd, False)

    def woken() -> None:
        try:
            if not os.read(parent.wake_fd, 4096):  # the parent closed it: it is stopping
                loop.remove_reader(parent.wake_fd)
                return
        except BlockingIOError:
            return
        runtime.wake()

    loop.add_reader(parent.wake_fd, woken)
