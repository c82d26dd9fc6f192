"""Chainon's app on a real uvicorn server in the test's own event loop.

For what httpx's ASGI transport cannot do: read a stream that never ends (the queue's
server-sent events), be called back over real HTTP (RBM's webhooks), or answer a client that
blocks its thread (schemathesis). The server binds 127.0.0.1 on a free port and is stopped
with the test.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import uvicorn

from chainon.api.app import create_app
from chainon.runtime import Runtime
from chainon.settings import Settings


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


@contextmanager
def serving_in_thread(settings: Settings) -> Iterator[str]:
    """Chainon's app with its own runtime (its lifespan) on uvicorn, in a thread of its own.

    For a synchronous client that blocks while it waits (schemathesis's ``requests``): the
    server's event loop must not be the caller's. Yields the base URL; stops the server and
    its runtime on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # said to the caller below
            failed.append(error)

    thread = threading.Thread(target=run, name="chainon-served", daemon=True)
    thread.start()
    try:
        for _ in range(3000):
            if server.started:
                break
            if failed or not thread.is_alive():
                raise AssertionError(f"uvicorn did not start: {failed}")
            time.sleep(0.01)
        else:
            raise AssertionError("uvicorn did not start within 30 s")
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop within 30 s"
