"""Chainon's app on a real uvicorn server in the test's own event loop.

For what httpx's ASGI transport cannot do: read a stream that never ends (the queue's
server-sent events), or be called back over real HTTP (RBM's webhooks). The server binds
127.0.0.1 on a free port and is stopped with the test.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from chainon.api.app import create_app
from chainon.runtime import Runtime


@dataclass(frozen=True)
class Serving:
    url: str  # http://127.0.0.1:<port>
    server: uvicorn.Server


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[Serving]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(runtime=runtime),
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started:
                break
            if task.done():
                task.result()  # it failed to start: say why
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("uvicorn did not start within 10 s")
        host, port = sock.getsockname()
        yield Serving(f"http://{host}:{port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
