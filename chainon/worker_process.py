"""One worker process: a single role (core, relay, dispatch, views or webhooks), with
health and metrics.

It stops cleanly on SIGTERM or SIGINT: the batch in hand is finished and committed, and
the consumer leaves its group, so its partitions move to the other workers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog
import uvicorn
from fastapi import FastAPI

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
    warn_unknown_variables()
    runtime = Runtime(settings, roles={role})
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    server = None
    server_task = None
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
            role=role.value,
            bus=settings.bus.value,
            store=settings.store.value,
            health_port=settings.worker_port or None,
        )
        await stopping.wait()
        log.info("worker.stopping", role=role.value)
    finally:
        await runtime.stop()
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await server_task
        runtime.close()
        log.info("worker.stopped", role=role.value)
