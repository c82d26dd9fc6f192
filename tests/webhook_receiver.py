"""A brand's webhook receiver, for real: an HTTP server on 127.0.0.1 in a thread of the
test, that verifies every delivery with the ``standardwebhooks`` package (not Chainon's
own signing code) and can be told to be down (503) or to hang (a dead endpoint)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any] | None  # None: the signature did not verify
    answered: int

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    url: str
    mode: str = "ok"  # ok | down | hang | hold (until ``gate`` is set)
    secrets: list[str] = field(default_factory=list)  # each must verify every delivery
    received: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)
    held: list[str] = field(default_factory=list)  # webhook ids of requests being held

    def verified(self, headers: dict[str, str], body: bytes) -> dict[str, Any] | None:
        payload = None
        for secret in self.secrets:
            try:
                payload = Webhook(secret).verify(body, headers)
            except Exception:  # the library's WebhookVerificationError, or a bad header
                return None
        return payload

    @property
    def delivered(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.received if d.answered == 200]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            d.payload
            for d in self.delivered
            if d.payload is not None and (kind is None or d.payload["type"] == kind)
        ]


@contextmanager
def receiver(path: str = "/hooks") -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = box["r"]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if me.mode == "hang":
                time.sleep(12)  # past Chainon's 10 s timeout
            if me.mode == "hold":
                me.held.append(headers["webhook-id"])
                me.gate.wait(30)
            answered = 503 if me.mode == "down" else 200
            with me.lock:
                me.received.append(Delivery(headers, body, me.verified(headers, body), answered))
            self.send_response(answered)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
