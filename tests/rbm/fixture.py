"""The ``rbm`` fixture: the fake RBM platform and a webhook receiver (standing in for
Chainon's endpoint), each served by uvicorn on 127.0.0.1 in a thread, with a throw-away
service account whose key the fake trusts.

Import both fixtures into a test module (``from tests.rbm.fixture import rbm_fixture,
rbm_servers_fixture  # noqa: F401``) and take ``rbm`` as an argument.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from chainon.adapters.channels.rcs.client import RbmSettings
from tests.rbm.server import FakeRbm

AGENT_ID = "maison-lumiere_abc123_agent"
CLIENT_EMAIL = "chainon-rbm@chainon-tests.iam.gserviceaccount.com"
KEY_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4"
CLIENT_TOKEN = "SJENCPGJESMGUFPY"

T = TypeVar("T")


class ServerThread:
    """uvicorn serving an ASGI app from a thread, on a port the OS picked."""

    def __init__(self, app: Starlette) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


def service_account(private_key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, str]:
    """A key file in Google's format, pointing at the fake's token endpoint."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "chainon-tests",
        "private_key_id": KEY_ID,
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "104857600000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }


@dataclass
class Received:
    body: bytes
    signature: str | None


@dataclass
class WebhookReceiver:
    """Keeps every POST; answers 500 to the first ``fail_first`` (so the fake redelivers)."""

    received: list[Received] = field(default_factory=list)
    fail_first: int = 0

    async def receive(self, request: Request) -> Response:
        self.received.append(
            Received(await request.body(), request.headers.get("x-goog-signature"))
        )
        if self.fail_first > 0:
            self.fail_first -= 1
            return PlainTextResponse("not now", status_code=500)
        return PlainTextResponse("")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/rbm", self.receive, methods=["POST"])])


@dataclass
class RbmPeer:
    """What a test holds: the fake's URL and control API, the receiver, the key file."""

    url: str
    key: dict[str, str]
    receiver: WebhookReceiver
    receiver_url: str

    def settings(self, **overrides: Any) -> RbmSettings:
        options: dict[str, Any] = {
            "agent_id": AGENT_ID,
            "service_account": self.key,
            "client_token": CLIENT_TOKEN,
            "api_base_url": self.url,
            "backoff": 0.01,
            "timeout": 5.0,
        }
        return RbmSettings(**{**options, **overrides})

    async def control(self, what: str, **body: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=5, verify=False) as client:
            response = await client.post(f"{self.url}/_control/{what}", json=body)
            response.raise_for_status()
            answer: dict[str, Any] = response.json()
            return answer

    async def phone(self, phone: str, **behaviour: Any) -> None:
        """Sets how a number behaves (see ``Behaviour``); ``capable=True`` makes it RCS."""
        await self.control("phone", phone=phone, **behaviour)

    async def state(self) -> dict[str, Any]:
        return await self.control("state")

    async def eventually(self, probe: Callable[[], Awaitable[T | None]], within: float = 5.0) -> T:
        """The first non-empty answer of ``probe``, polled until ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            value = await probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing came within {within}s")
            await asyncio.sleep(0.02)


@functools.cache
def private_key() -> rsa.RSAPrivateKey:
    """One throw-away key per run (generating one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Servers:
    fake: ServerThread
    receiver: ServerThread
    webhook_receiver: WebhookReceiver
    key: dict[str, str]


@pytest.fixture(name="rbm_servers", scope="module")
def rbm_servers_fixture() -> Iterator[Servers]:
    """The two servers, started once per test module (each start and stop costs about half
    a second); ``rbm`` resets them between tests."""
    key = private_key()
    webhook_receiver = WebhookReceiver()
    receiver = ServerThread(webhook_receiver.app()).start()
    fake = FakeRbm(agent_id=AGENT_ID, accounts={CLIENT_EMAIL: (KEY_ID, key.public_key())})
    fake_server = ServerThread(fake.app())
    fake.token_uri = f"{fake_server.url}/token"
    fake.callback_url = f"{receiver.url}/rbm"
    fake.client_token = CLIENT_TOKEN
    fake_server.start()
    try:
        yield Servers(fake_server, receiver, webhook_receiver, service_account(key, fake.token_uri))
    finally:
        fake_server.stop()
        receiver.stop()


@pytest.fixture(name="rbm")
def rbm_fixture(rbm_servers: Servers) -> RbmPeer:
    with httpx.Client(timeout=5, verify=False) as control:
        control.post(f"{rbm_servers.fake.url}/_control/reset").raise_for_status()
    receiver = rbm_servers.webhook_receiver
    receiver.received.clear()
    receiver.fail_first = 0
    return RbmPeer(
        url=rbm_servers.fake.url,
        key=rbm_servers.key,
        receiver=receiver,
        receiver_url=f"{rbm_servers.receiver.url}/rbm",
    )
