"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256>`` of ``id.timestamp.body``."""

from __future__ import annotations

import base64
import hashlib
import hmac

from chainon.webhooks.endpoints import SECRET_PREFIX


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secrets: list[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """One signature per valid secret, space-separated: during a rotation's overlap a
    receiver holding either secret verifies."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, webhook_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
    }
