"""A receiver on 127.0.0.1 for ``chainon demo``: it checks each delivery's signature and
keeps what it got, so the story can show a webhook arriving as a brand's system sees it."""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chainon.webhooks.signing import signature


class LocalReceiver:
    def __init__(self) -> None:
        self.secret = ""
        self.got: list[tuple[str, dict[str, Any], bool]] = []  # id, payload, verified
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                webhook_id = self.headers.get("webhook-id", "")
                timestamp = int(self.headers.get("webhook-timestamp", "0"))
                expected = signature(owner.secret, webhook_id, timestamp, body)
                signatures = self.headers.get("webhook-signature", "").split(" ")
                verified = any(hmac.compare_digest(expected, s) for s in signatures)
                with owner.lock:
                    owner.got.append((webhook_id, json.loads(body), verified))
                self.send_response(204 if verified else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/chainon"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> list[tuple[str, dict[str, Any], bool]]:
        with self.lock:
            return list(self.got)
