"""A fake RBM platform (and its Google token endpoint) as a Starlette app, for the tests.

It checks what the real one checks where a client can get it wrong: the JWT assertion's
RS256 signature against the service account's public key, the bearer token on every call,
the agent id, UUID message ids and the exact ``contentMessage`` shape (unknown fields are
refused, as proto3 JSON parsing does). Numbers behave as the control API says (capable or
not, deliver, read, reply, stay silent, fail N times, lose a revocation race), and it posts
signed notifications to a callback URL. See README.md for what it leaves out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chainon.adapters.channels.rcs.webhook import sign

SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
NOT_REACHABLE = "The specified phone number cannot be reached by RBM at this time."
ACTIONS = {
    "openUrlAction",
    "dialAction",
    "viewLocationAction",
    "shareLocationAction",
    "createCalendarEventAction",
}


@dataclass
class Behaviour:
    capable: bool = False
    features: list[str] = field(
        default_factory=lambda: ["RICHCARD_STANDALONE", "RICHCARD_CAROUSEL", "ACTION_OPEN_URL"]
    )
    outcome: str = "deliver"  # deliver, read, reply, silent
    delay: float = 0.05
    reply_text: str = "Oui"
    fail_status: int = 503
    fail_times: int = 0  # the next N calls for this number fail with fail_status
    retry_after: float | None = None
    revoke: str = "normal"  # or already_delivered: the revocation loses the race


@dataclass
class Stored:
    phone: str
    message_id: str
    body: dict[str, Any]
    status: str = "pending"  # pending, delivered, revoked


class Refused(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def response(self) -> JSONResponse:
        error = {"code": self.code, "message": self.message, "status": self.status}
        return JSONResponse({"error": error}, status_code=self.code)


def invalid(message: str) -> Refused:
    return Refused(400, "INVALID_ARGUMENT", message)


@dataclass
class FakeRbm:
    agent_id: str
    accounts: dict[str, tuple[str, RSAPublicKey]]  # client_email → (private_key_id, key)
    token_uri: str = ""  # set once the server listens
    token_lifetime: int = 3600
    client_token: str = ""
    callback_url: str | None = None
    duplicate_webhooks: bool = False
    phones: dict[str, Behaviour] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token → expiry (time.time)
    grants: int = 0
    messages: dict[str, Stored] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    agent_events: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # The token endpoint

    async def token(self, request: Request) -> Response:
        # Parsed by hand: Starlette's form parser needs python-multipart, for no gain here.
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return oauth_error("unsupported_grant_type", "Invalid grant_type.")
        try:
            self.check_assertion(str(form.get("assertion", "")))
        except ValueError as exc:
            return oauth_error("invalid_grant", str(exc))
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.token_lifetime
        self.grants += 1
        grant = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return JSONResponse(grant)

    def check_assertion(self, assertion: str) -> None:
        parts = assertion.split(".")
        if len(parts) != 3:
            raise ValueError("Invalid JWT: not three parts.")
        header, claims = (json.loads(b64url(part)) for part in parts[:2])
        account = self.accounts.get(claims.get("iss", ""))
        if header.get("alg") != "RS256" or account is None:
            raise ValueError("Invalid JWT: unknown issuer or algorithm.")
        key_id, public_key = account
        if header.get("kid") not in (None, key_id):
            raise ValueError("Invalid JWT Signature.")
        signed = f"{parts[0]}.{parts[1]}".encode()
        try:
            public_key.verify(b64url(parts[2]), signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ValueError("Invalid JWT Signature.") from None
        now = time.time()
        if claims.get("aud") != self.token_uri:
            raise ValueError("Invalid JWT: audience is not this token endpoint.")
        if not claims["iat"] - 60 <= now < claims["exp"] or claims["exp"] - claims["iat"] > 3600:
            raise ValueError("Invalid JWT: Token must be a short-lived token (60 minutes).")
        if SCOPE not in str(claims.get("scope", "")).split():
            raise ValueError("Invalid JWT: the scope is not RBM's.")

    # The API

    async def api(self, request: Request) -> Response:
        try:
            self.authorize(request)
            return await self.route(request)
        except Refused as refused:
            return refused.response()

    def authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or self.tokens.get(token, 0) <= time.time():
            raise Refused(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")

    async def route(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"null")
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "json": body,
            }
        )
        if request.url.path == "/v1/users:batchGet":
            return self.batch_get(body)
        if request.query_params.get("agentId") != self.agent_id:
            raise Refused(403, "PERMISSION_DENIED", "agentId is not this agent.")
        phone = request.path_params["phone"]
        behaviour = self.phones.setdefault(phone, Behaviour())
        if behaviour.fail_times > 0:
            behaviour.fail_times -= 1
            headers = {}
            if behaviour.retry_after is not None:
                headers["Retry-After"] = f"{behaviour.retry_after:g}"
            refused = Refused(behaviour.fail_status, "UNAVAILABLE", "The service is unavailable.")
            response = refused.response()
            response.headers.update(headers)
            return response
        if not behaviour.capable:
            raise Refused(404, "NOT_FOUND", NOT_REACHABLE)
        kind = request.scope["route"].name
        if kind == "capabilities":
            require_uuid(request.query_params.get("requestId"), "requestId")
            return JSONResponse({"features": behaviour.features})
        if kind == "send":
            return self.send(phone, request.query_params.get("messageId"), body, behaviour)
        if kind == "revoke":
            return self.revoke(request.path_params["message_id"], behaviour)
        return self.agent_event(phone, request.query_params.get("eventId"), body)

    def batch_get(self, body: Any) -> Response:
        if not isinstance(body, dict) or body.get("agentId") != self.agent_id:
            raise Refused(403, "PERMISSION_DENIED", "agentId is not this agent.")
        users = body.get("users", [])
        reachable = [u for u in users if self.phones.get(u, Behaviour()).capable]
        return JSONResponse(
            {
                "reachableUsers": reachable,
                "totalRandomSampleUserCount": 0,  # RBM samples from 500 numbers up
                "reachableRandomSampleUserCount": 0,
            }
        )

    def send(self, phone: str, message_id: str | None, body: Any, how: Behaviour) -> Response:
        message_id = require_uuid(message_id, "messageId")
        check_agent_message(body)
        stored = self.messages.get(message_id)
        if stored is None:  # RBM ignores a message id it has already seen
            stored = self.messages[message_id] = Stored(phone, message_id, body)
            if how.outcome != "silent":
                self.later(self.deliver(stored, how))
        answer = {
            "name": f"phones/{phone}/agentMessages/{message_id}",
            "sendTime": now(),
            **stored.body,
        }
        return JSONResponse(answer)

    def revoke(self, message_id: str, how: Behaviour) -> Response:
        stored = self.messages.get(message_id)
        if stored is not None and stored.status == "pending" and how.revoke == "already_delivered":
            self.mark_delivered(stored)  # delivered while the revocation was on its way
        if stored is None or stored.status != "pending":
            raise Refused(404, "NOT_FOUND", "Requested entity was not found.")
        stored.status = "revoked"
        return JSONResponse({})

    def agent_event(self, phone: str, event_id: str | None, body: Any) -> Response:
        event_id = require_uuid(event_id, "eventId")
        if not isinstance(body, dict) or body.get("eventType") not in ("READ", "IS_TYPING"):
            raise invalid("eventType must be READ or IS_TYPING.")
        unknown = set(body) - {"eventType", "messageId"}
        if unknown:
            raise invalid(f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}.")
        if body["eventType"] == "READ" and not body.get("messageId"):
            raise invalid("A READ event needs a messageId.")
        self.agent_events.append({"phone": phone, "eventId": event_id, **body})
        return JSONResponse({"name": f"phones/{phone}/agentEvents/{event_id}", **body})

    # What the consumer's handset does

    async def deliver(self, stored: Stored, how: Behaviour) -> None:
        await asyncio.sleep(how.delay)
        if stored.status != "pending":
            return
        self.mark_delivered(stored)
        if how.outcome == "read":
            await asyncio.sleep(how.delay)
            await self.post_user_event(stored.phone, "READ", stored.message_id)
        elif how.outcome == "reply":
            await asyncio.sleep(how.delay)
            await self.post(self.user_message(stored.phone, {"text": how.reply_text}))

    def mark_delivered(self, stored: Stored) -> None:
        stored.status = "delivered"
        self.later(self.post_user_event(stored.phone, "DELIVERED", stored.message_id))

    async def post_user_event(self, phone: str, event_type: str, message_id: str) -> None:
        event = {
            "senderPhoneNumber": phone,
            "eventType": event_type,
            "eventId": f"MxEv{secrets.token_hex(8)}",
            "messageId": message_id,
            "sendTime": now(),
            "agentId": self.agent_id,
        }
        await self.post(event)

    def user_message(self, phone: str, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "senderPhoneNumber": phone,
            "messageId": f"MsUm{secrets.token_hex(8)}",
            "sendTime": now(),
            "agentId": self.agent_id,
            **content,
        }

    async def post(self, data: dict[str, Any], attempts: int = 3) -> None:
        """Posts as Pub/Sub push does, redelivering the very same notification until the
        webhook answers 2xx."""
        if self.callback_url is None:
            return
        raw = json.dumps(data).encode()
        envelope = {
            "message": {
                "data": base64.b64encode(raw).decode(),
                "messageId": str(secrets.randbelow(10**16)),
                "publishTime": now(),
            },
            "subscription": f"projects/rbm-{self.agent_id}/subscriptions/rbm-agent-subscription",
        }
        headers = {"X-Goog-Signature": sign(raw, self.client_token)}
        copies = 2 if self.duplicate_webhooks else 1
        async with httpx.AsyncClient(timeout=5, verify=False) as client:
            for _ in range(copies):
                for _ in range(attempts):
                    answer = await client.post(self.callback_url, json=envelope, headers=headers)
                    pubsub_id = envelope["message"]["messageId"]
                    self.webhooks.append(
                        {"data": data, "pubsub_id": pubsub_id, "status": answer.status_code}
                    )
                    if answer.is_success:
                        break
                    await asyncio.sleep(0.05)

    def later(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # The control API (not RBM's)

    async def control(self, request: Request) -> Response:
        what = request.path_params["what"]
        body = json.loads(await request.body() or b"{}")
        if what == "phone":
            phone = body.pop("phone")
            self.phones[phone] = Behaviour(**body)
        elif what == "webhook":
            self.callback_url = body["url"]
            self.client_token = body["client_token"]
            self.duplicate_webhooks = body.get("duplicate", False)
        elif what == "token_lifetime":
            self.token_lifetime = body["seconds"]
        elif what == "forget_tokens":
            self.tokens.clear()
        elif what == "user_message":
            self.later(self.post(self.user_message(body.pop("phone"), body)))
        elif what == "reset":
            self.reset()
        elif what == "state":
            return JSONResponse(self.state())
        else:
            return JSONResponse({"error": f"no control {what!r}"}, status_code=404)
        return JSONResponse({})

    def reset(self) -> None:
        """Back to a fresh platform between tests (the servers outlive one test)."""
        for task in self._tasks:
            task.cancel()
        self.token_lifetime, self.duplicate_webhooks, self.grants = 3600, False, 0
        for kept in (self.phones, self.tokens, self.messages):
            kept.clear()
        for log in (self.requests, self.agent_events, self.webhooks):
            log.clear()

    def state(self) -> dict[str, Any]:
        return {
            "grants": self.grants,
            "messages": {key: asdict(stored) for key, stored in self.messages.items()},
            "requests": self.requests,
            "agent_events": self.agent_events,
            "webhooks": self.webhooks,
        }

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self.token, methods=["POST"]),
                Route("/v1/users:batchGet", self.api, methods=["POST"], name="batch_get"),
                Route(
                    "/v1/phones/{phone}/capabilities",
                    self.api,
                    methods=["GET"],
                    name="capabilities",
                ),
                Route("/v1/phones/{phone}/agentMessages", self.api, methods=["POST"], name="send"),
                Route(
                    "/v1/phones/{phone}/agentMessages/{message_id}",
                    self.api,
                    methods=["DELETE"],
                    name="revoke",
                ),
                Route("/v1/phones/{phone}/agentEvents", self.api, methods=["POST"], name="event"),
                Route("/_control/{what}", self.control, methods=["GET", "POST"]),
            ]
        )


# The AgentMessage shape


def check_agent_message(body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("contentMessage"), dict):
        raise invalid("contentMessage is required.")
    allowed = {"contentMessage", "ttl", "expireTime", "messageTrafficType"}
    only(body, allowed, "")
    if "ttl" in body and "expireTime" in body:
        raise invalid("ttl and expireTime are mutually exclusive.")
    content = body["contentMessage"]
    union = {"text", "richCard", "fileName", "uploadedRbmFile", "contentInfo"}
    only(content, union | {"suggestions"}, "contentMessage.")
    one_of(content, union, "contentMessage")
    if "text" in content and len(content["text"]) > 3072:
        raise invalid("contentMessage.text is longer than 3072 characters.")
    check_suggestions(content.get("suggestions", []), 11, "contentMessage.suggestions")
    card = content.get("richCard")
    if card is not None:
        only(card, {"standaloneCard", "carouselCard"}, "richCard.")
        one_of(card, {"standaloneCard", "carouselCard"}, "richCard")
        if "standaloneCard" in card:
            standalone = card["standaloneCard"]
            only(standalone, {"cardOrientation", "thumbnailImageAlignment", "cardContent"}, "")
            if standalone.get("cardOrientation") not in ("VERTICAL", "HORIZONTAL"):
                raise invalid("standaloneCard.cardOrientation is required.")
            check_card(standalone.get("cardContent"))
        else:
            carousel = card["carouselCard"]
            only(carousel, {"cardWidth", "cardContents"}, "carouselCard.")
            if carousel.get("cardWidth") not in ("SMALL", "MEDIUM"):
                raise invalid("carouselCard.cardWidth is required.")
            contents = carousel.get("cardContents", [])
            if not 2 <= len(contents) <= 10:
                raise invalid("carouselCard.cardContents holds 2 to 10 cards.")
            for card_content in contents:
                check_card(card_content)


def check_card(card: Any) -> None:
    if not isinstance(card, dict) or not {"title", "description", "media"} & set(card):
        raise invalid("cardContent needs a title, a description or media.")
    only(card, {"title", "description", "media", "suggestions"}, "cardContent.")
    media = card.get("media")
    if media is not None:
        only(media, {"height", "contentInfo", "fileName"}, "media.")
        if media.get("height") not in ("SHORT", "MEDIUM", "TALL"):
            raise invalid("media.height is required.")
        if not media.get("contentInfo", {}).get("fileUrl", "").startswith(("http://", "https://")):
            raise invalid("media.contentInfo.fileUrl is required.")
    check_suggestions(card.get("suggestions", []), 4, "cardContent.suggestions")


def check_suggestions(suggestions: list[Any], limit: int, where: str) -> None:
    if len(suggestions) > limit:
        raise invalid(f"{where} holds at most {limit} suggestions.")
    for suggestion in suggestions:
        only(suggestion, {"reply", "action"}, f"{where}.")
        one_of(suggestion, {"reply", "action"}, where)
        chip = suggestion.get("reply") or suggestion.get("action")
        if not 1 <= len(chip.get("text", "")) <= 25 or len(chip.get("postbackData", "")) > 2048:
            raise invalid(f"{where}: text is 1 to 25 characters, postbackData up to 2048.")
        if "action" in suggestion:
            only(chip, ACTIONS | {"text", "postbackData", "fallbackUrl"}, "action.")
            one_of(chip, ACTIONS, "action")
        else:
            only(chip, {"text", "postbackData"}, "reply.")


def only(value: Any, allowed: set[str], where: str) -> None:
    if not isinstance(value, dict):
        raise invalid(f"{where or 'body'} is not an object.")
    unknown = set(value) - allowed
    if unknown:
        raise invalid(f"Invalid JSON payload received. Unknown name {where}{sorted(unknown)[0]}.")


def one_of(value: dict[str, Any], members: set[str], where: str) -> None:
    if len(members & set(value)) != 1:
        raise invalid(f"{where} sets exactly one of {sorted(members)}.")


def require_uuid(value: str | None, name: str) -> str:
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        raise invalid(f"{name} must be a UUID.") from None


def oauth_error(error: str, description: str) -> JSONResponse:
    # RFC 6749 §5.2, as Google's token endpoint answers: 400 with error and description.
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


def b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
