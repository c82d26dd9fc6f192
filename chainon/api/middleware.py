"""One ASGI middleware for what every request needs before any route runs.

A request id (taken from ``X-Request-Id`` or made), bound to the logs and echoed back; a
body-size limit answered with 413 before the body is read into memory; metrics.

A body sent chunked has no length to check up front: the limit is then found while the route
reads it, and raised as an HTTP error, which FastAPI passes through (any other error while
reading a body it answers with a bare 400).
"""

from __future__ import annotations

import json
import re
import time
import uuid

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chainon.observability import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("chainon.http")
_UPLOAD = re.compile(r"/v1/campaigns/[^/]+/audience|/v1/consent/import")


class TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes")


class RequestContext:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # A campaign's audience or a consent import (a CSV of 100,000 rows) is streamed to
        # disk, not parsed in memory: it may be far larger than a JSON request.
        self.max_upload_bytes = max_upload_bytes or max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = given if given.isprintable() and given else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        limit = self.max_body_bytes
        if scope["method"] == "PUT" and _UPLOAD.fullmatch(scope["path"]):
            limit = self.max_upload_bytes
        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await self._too_large(send_with_id, limit)
                return
            await self.app(scope, self._limited(receive, limit), send_with_id)
        except TooLarge:
            await self._too_large(send_with_id, limit)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], path).observe(elapsed)
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round(elapsed * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    def _limited(self, receive: Receive, limit: int) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(limit)
            return message

        return limited

    async def _too_large(self, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "type": "https://chainon.dev/problems/too-large",
                "title": "Too large",
                "status": 413,
                "detail": TooLarge(limit).detail,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
