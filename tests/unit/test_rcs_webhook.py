"""RBM webhook helpers on bodies built here: the registration check, signatures, every kind
of notification, and malformed bodies refused with the field at fault."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chainon.adapters.channels.rcs.webhook import (
    MalformedWebhook,
    RbmOtherNotification,
    RbmServerEvent,
    RbmUserEvent,
    RbmUserMessage,
    WebhookRefused,
    parse_webhook,
    registration_answer,
    sign,
    verify_signature,
)

TOKEN = "SJENCPGJESMGUFPY"
SENT = {"senderPhoneNumber": "+33612345678", "sendTime": "2026-05-04T09:30:00.123Z"}


def push(data: dict[str, Any] | bytes, **message: Any) -> bytes:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    envelope = {"message": {"data": base64.b64encode(raw).decode(), "messageId": "1", **message}}
    return json.dumps(envelope).encode()


def malformed_field(body: bytes) -> str:
    with pytest.raises(MalformedWebhook) as refused:
        parse_webhook(body)
    return refused.value.field


def test_the_registration_check_is_answered_with_its_secret_for_our_token_only() -> None:
    check = json.dumps({"clientToken": TOKEN, "secret": "1234567890"}).encode()
    assert registration_answer(check, TOKEN) == "1234567890"
    with pytest.raises(WebhookRefused):
        registration_answer(check, "ANOTHERTOKEN")
    with pytest.raises(WebhookRefused):
        registration_answer(check, "")
    assert registration_answer(push({**SENT, "messageId": "m", "text": "Bonjour"}), TOKEN) is None
    assert registration_answer(b"not json", TOKEN) is None


def test_the_signature_covers_the_decoded_data() -> None:
    data = json.dumps({**SENT, "messageId": "m", "text": "Bonjour"}).encode()
    body = push(data)
    assert verify_signature(body, sign(data, TOKEN), TOKEN)
    assert verify_signature(body, f" {sign(data, TOKEN)}\n", TOKEN)
    assert not verify_signature(body, sign(data + b" ", TOKEN), TOKEN)
    assert not verify_signature(body, sign(data, TOKEN), "")  # no token, nothing verifies
    assert not verify_signature(b"{}", sign(data, TOKEN), TOKEN)


def test_a_text_a_location_and_a_file() -> None:
    text = parse_webhook(push({**SENT, "messageId": "m1", "text": "Bonjour", "agentId": "a"}))
    assert isinstance(text, RbmUserMessage)
    assert (text.message_id, text.text, text.agent_id) == ("m1", "Bonjour", "a")
    assert text.send_time.microsecond == 123000
    location = parse_webhook(
        push({**SENT, "messageId": "m2", "location": {"latitude": 48.85, "longitude": 2.35}})
    )
    assert isinstance(location, RbmUserMessage)
    assert location.location is not None
    assert location.location.latitude == 48.85
    user_file = {
        "payload": {
            "mimeType": "image/jpeg",
            "fileSizeBytes": "48213",
            "fileUri": "https://rcs.example/f/1",
            "fileName": "colis.jpg",
        }
    }
    file_message = parse_webhook(push({**SENT, "messageId": "m3", "userFile": user_file}))
    assert isinstance(file_message, RbmUserMessage)
    assert file_message.user_file is not None
    assert file_message.user_file.payload.file_size_bytes == 48213


def test_url_safe_base64_is_read_too() -> None:
    raw = json.dumps({**SENT, "messageId": "m", "text": "ça ??>>"}).encode()
    envelope = {"message": {"data": base64.urlsafe_b64encode(raw).decode()}}
    parsed = parse_webhook(json.dumps(envelope).encode())
    assert isinstance(parsed, RbmUserMessage)
    assert parsed.text == "ça ??>>"


def test_user_events_server_events_and_other_notifications() -> None:
    typing = parse_webhook(push({**SENT, "eventType": "IS_TYPING", "eventId": "e1"}))
    assert isinstance(typing, RbmUserEvent)
    assert typing.message_id is None
    expired = {
        "phoneNumber": "+33612345678",
        "messageId": "8f0c7d8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f",
        "agentId": "a",
        "eventType": "TTL_EXPIRATION_REVOKED",
        "eventId": "e2",
        "sendTime": "2026-05-04T10:00:00Z",
    }
    server_event = parse_webhook(push(expired))
    assert isinstance(server_event, RbmServerEvent)
    assert server_event.event_type == "TTL_EXPIRATION_REVOKED"
    launch = parse_webhook(push({"agent": "x"}, attributes={"type": "agent_launch_event"}))
    assert launch == RbmOtherNotification(kind="agent_launch_event")
    # An event type RBM adds later is passed on, not refused (a refusal is retried for days).
    novel = parse_webhook(push({**SENT, "eventType": "RECALLED", "eventId": "e3"}))
    assert isinstance(novel, RbmUserEvent)
    assert novel.event_type == "RECALLED"


def test_malformed_bodies_name_the_field() -> None:
    assert malformed_field(b"<xml/>") == "body"
    assert malformed_field(b"[]") == "body"
    assert malformed_field(b'{"subscription": "s"}') == "message"
    assert malformed_field(b'{"message": {"messageId": "1"}}') == "message.data"
    assert malformed_field(b'{"message": {"data": "%%%not base64"}}') == "message.data"
    assert malformed_field(push(b"not json")) == "message.data"
    assert (
        malformed_field(push({"messageId": "m", "text": "x"})) == "message.data.senderPhoneNumber"
    )
    assert malformed_field(push({**SENT, "messageId": "m", "text": 42})) == "message.data.text"
    assert malformed_field(push({**SENT, "text": "x"})) == "message.data.messageId"
    bad_time = {**SENT, "sendTime": "yesterday", "messageId": "m", "text": "x"}
    assert malformed_field(push(bad_time)) == "message.data.sendTime"
    far = {"latitude": 123, "longitude": 2}
    assert malformed_field(push({**SENT, "messageId": "m", "location": far})) == (
        "message.data.location.latitude"
    )


def test_a_message_carries_exactly_one_content_and_a_receipt_names_its_message() -> None:
    with pytest.raises(MalformedWebhook, match="exactly one of text"):
        parse_webhook(push({**SENT, "messageId": "m"}))
    with pytest.raises(MalformedWebhook, match="exactly one of text"):
        parse_webhook(
            push(
                {**SENT, "messageId": "m", "text": "a", "location": {"latitude": 1, "longitude": 2}}
            )
        )
    with pytest.raises(MalformedWebhook, match="messageId: a DELIVERED event names the message"):
        parse_webhook(push({**SENT, "eventType": "DELIVERED", "eventId": "e"}))
