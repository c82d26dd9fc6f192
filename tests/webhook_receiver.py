"""A brand's webhook receiver, for real: an HTTP server on 127.0.0.1 in a thread of the
test, that verifies every delivery with the ``standardwebhooks`` package (not Chainon's
own signing code) and can be told to be down (503), to hang (a dead endpoint), to trickle
its answer a byte at a time or to redirect. Over TLS too, with a certificate made by the
test for a name (``self_signed``)."""

from __future__ import annotations

import datetime
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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
    # ok | down | hang | hold (until ``gate`` is set) | trickle (a byte of the answer's body
    # every 0.2 s, each read well within any read timeout) | redirect (307 to ``/elsewhere``)
    mode: str = "ok"
    secrets: list[str] = field(default_factory=list)  # each must verify every delivery
    received: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)
    held: list[str] = field(default_factory=list)  # webhook ids of requests being held
    hosts: list[str] = field(default_factory=list)  # each request's Host header
    paths: list[str] = field(default_factory=list)  # each request's path

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


def self_signed(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context holding a certificate for the DNS name ``name`` only (no IP
    address in it), and a client context trusting that certificate alone."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(pem)
        key_file.write_bytes(key_pem)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


@contextmanager
def receiver(
    path: str = "/hooks",
    *,
    tls: ssl.SSLContext | None = None,
    name: str = "127.0.0.1",
    keep_alive: bool = False,
) -> Iterator[Receiver]:
    """Listens on 127.0.0.1; its URL names it ``name`` (https with ``tls``); with
    ``keep_alive`` a connection serves several requests (HTTP/1.1)."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_POST(self) -> None:
            me = box["r"]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if me.mode == "hang":
                time.sleep(12)  # past Chainon's 10 s timeout
            if me.mode == "hold":
                me.held.append(headers["webhook-id"])
                me.gate.wait(30)
            answered = {"down": 503, "redirect": 307}.get(me.mode, 200)
            me.hosts.append(headers.get("host", ""))
            me.paths.append(self.path)
            with me.lock:
                me.received.append(Delivery(headers, body, me.verified(headers, body), answered))
            self.send_response(answered)
            if me.mode == "redirect":
                self.send_header("location", "/elsewhere")
            if me.mode == "trickle":
                self.trickle()
                return
            self.send_header("content-length", "0")
            self.end_headers()

        def trickle(self, size: int = 150) -> None:
            """An answer that keeps coming, until 30 s or the client hangs up."""
            self.send_header("content-length", str(size))
            self.end_headers()
            try:
                for _ in range(size):
                    self.wfile.write(b".")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:  # the client gave up on it
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    box["r"] = Receiver(f"{scheme}://{name}:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
