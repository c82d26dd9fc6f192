"""What RBM posts to our webhook: the registration check, the signature, the payloads.

Pure functions over the request body, so that any HTTP layer can use them. RBM wraps each
notification as a Pub/Sub push: ``{"message": {"data": <base64 JSON>, "messageId",
"publishTime", "attributes"}, "subscription"}``, and signs it in ``X-Goog-Signature`` with
base64(HMAC-SHA512(clientToken, base64-decoded message.data)).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

SIGNATURE_HEADER = "X-Goog-Signature"

# Known event types; others are passed through as they come (RBM adds types over time,
# and refusing one would make RBM retry it for days and hold up the agent's queue).
DELIVERED = "DELIVERED"
READ = "READ"
IS_TYPING = "IS_TYPING"
TTL_EXPIRATION_REVOKED = "TTL_EXPIRATION_REVOKED"
TTL_EXPIRATION_REVOKE_FAILED = "TTL_EXPIRATION_REVOKE_FAILED"
SERVER_EVENT_TYPES = frozenset({TTL_EXPIRATION_REVOKED, TTL_EXPIRATION_REVOKE_FAILED})
AGENT_LAUNCH_EVENT = "agent_launch_event"


class MalformedWebhook(ValueError):
    """The body is not an RBM notification; ``field`` names the part at fault."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class WebhookRefused(ValueError):
    """A registration check that carries another agent's client token."""


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class SuggestionResponse(_Payload):
    postback_data: str
    text: str = ""
    type: Literal["REPLY", "ACTION"] | None = None


class Location(_Payload):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class FileInfo(_Payload):
    mime_type: str
    file_size_bytes: int | None = None  # an int64, which JSON carries as a string
    file_uri: str
    file_name: str | None = None


class UserFile(_Payload):
    payload: FileInfo
    thumbnail: FileInfo | None = None


class RbmUserMessage(_Payload):
    """A consumer's message: typed text, a tapped suggestion, a location or a file."""

    sender_phone_number: str = Field(min_length=1)
    message_id: str = Field(min_length=1)
    send_time: datetime
    agent_id: str = ""
    text: str | None = None
    suggestion_response: SuggestionResponse | None = None
    location: Location | None = None
    user_file: UserFile | None = None

    @model_validator(mode="after")
    def _one_content(self) -> RbmUserMessage:
        given = [self.text, self.suggestion_response, self.location, self.user_file]
        if sum(part is not None for part in given) != 1:
            raise ValueError("exactly one of text, suggestionResponse, location, userFile")
        return self


class RbmUserEvent(_Payload):
    """What the consumer's handset reports: DELIVERED, READ (both name our message) or
    IS_TYPING."""

    sender_phone_number: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    event_id: str = Field(min_length=1)
    message_id: str | None = None
    send_time: datetime
    agent_id: str = ""

    @model_validator(mode="after")
    def _names_its_message(self) -> RbmUserEvent:
        if self.event_type in (DELIVERED, READ) and not self.message_id:
            raise ValueError(f"messageId: a {self.event_type} event names the message")
        return self


class RbmServerEvent(_Payload):
    """What RBM itself reports about our message: its TTL ran out and it was revoked, or
    could not be (then a DELIVERED event follows if it was delivered)."""

    phone_number: str = Field(min_length=1)
    event_type: Literal["TTL_EXPIRATION_REVOKED", "TTL_EXPIRATION_REVOKE_FAILED"]
    event_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)
    send_time: datetime
    agent_id: str = ""


class RbmOtherNotification(_Payload):
    """A notification of another kind (an agent launch event...): acknowledged, not used."""

    kind: str


_Model = TypeVar("_Model", bound=BaseModel)

Notification = RbmUserMessage | RbmUserEvent | RbmServerEvent | RbmOtherNotification


def verify_signature(body: bytes, header: str | None, client_token: str) -> bool:
    """Whether RBM signed this body with our client token (in constant time)."""
    if not header or not client_token:
        return False
    try:
        data = _decoded_data(_json_object(body, "body"))
    except MalformedWebhook:
        return False
    return hmac.compare_digest(sign(data, client_token).encode(), header.strip().encode())


def sign(data: bytes, client_token: str) -> str:
    """The X-Goog-Signature RBM puts on a notification whose decoded data is ``data``."""
    return base64.b64encode(hmac.new(client_token.encode(), data, hashlib.sha512).digest()).decode()


def registration_answer(body: bytes, client_token: str) -> str | None:
    """The secret to answer (as the plain-text body of a 200) when this POST is RBM's
    webhook registration check, None when it is an ordinary notification.

    The check is ``{"clientToken": ..., "secret": ...}``, unsigned: answering the secret
    only for our own client token proves to RBM that the endpoint is ours."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or "message" in payload or "secret" not in payload:
        return None
    token, secret = payload.get("clientToken"), payload.get("secret")
    if not isinstance(token, str) or not isinstance(secret, str):
        raise MalformedWebhook("clientToken", "a registration check carries two strings")
    if not client_token or not hmac.compare_digest(token.encode(), client_token.encode()):
        raise WebhookRefused("clientToken: not this agent's client token")
    return secret


def parse_webhook(body: bytes) -> Notification:
    """The notification in a webhook body (whose signature was checked first)."""
    envelope = _json_object(body, "body")
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise MalformedWebhook("message", "missing or not an object")
    attributes = message.get("attributes")
    # Only agent launch events are documented as told apart by this attribute; anything
    # else is read as a user message or event, so that none is dropped unread.
    if isinstance(attributes, dict) and attributes.get("type") == AGENT_LAUNCH_EVENT:
        return RbmOtherNotification(kind=AGENT_LAUNCH_EVENT)
    data = _json_object(_decoded_data(envelope), "message.data")
    if "eventType" in data:
        if data["eventType"] in SERVER_EVENT_TYPES:
            return _validated(RbmServerEvent, data)
        return _validated(RbmUserEvent, data)
    return _validated(RbmUserMessage, data)


def _json_object(raw: bytes | str, field: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise MalformedWebhook(field, f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise MalformedWebhook(field, "not a JSON object")
    return value


def _decoded_data(envelope: dict[str, Any]) -> bytes:
    message = envelope.get("message")
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, str) or not data:
        raise MalformedWebhook("message.data", "missing or not a string")
    try:
        # Pub/Sub sends standard base64; the URL-safe alphabet is taken too.
        return base64.b64decode(data, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise MalformedWebhook("message.data", "not base64") from None


def _validated(model: type[_Model], data: dict[str, Any]) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        field = f"message.data.{where}" if where else "message.data"
        raise MalformedWebhook(field, error["msg"]) from exc
