"""The webhooks in the OpenAPI document (3.1's ``webhooks``): one operation per event type,
its body's schema read from the public events' own annotations (``chainon.event_schemas``),
so a field added to an event is in the documented payload the day it is added."""

from __future__ import annotations

from typing import Any

from chainon.domain.webhooks import EVENT_TYPES
from chainon.event_schemas import data_schema
from chainon.webhooks.payloads import SCHEMA_VERSION, SOURCES, SUBJECTS

_HEADERS = {
    "webhook-id": "The same on every retry of one event to one endpoint: de-duplicate on it.",
    "webhook-timestamp": "Unix seconds of this attempt; refuse old ones (replays).",
    "webhook-signature": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated "
    "when a rotated secret is still valid.",
}


def _data(kind: str) -> dict[str, Any]:
    variants = []
    for event_class, (each, extra) in SOURCES.items():
        if each != kind:
            continue
        schema = data_schema(event_class)
        name = event_class.TOPIC.removeprefix("chainon:")  # type: ignore[attr-defined]
        aggregate = name.split(".", 1)[0]
        subject = SUBJECTS.get(aggregate, "conversation_id")
        consts = {
            k: {"const": v, "type": "boolean" if isinstance(v, bool) else "string"}
            for k, v in extra.items()
        }
        schema["properties"] = {
            subject: {"type": "string", "format": "uuid"},
            **consts,
            **schema.get("properties", {}),
        }
        schema["required"] = sorted({subject, *extra, *schema.get("required", ())})
        schema["title"] = name
        variants.append(schema)
    return variants[0] if len(variants) == 1 else {"oneOf": variants}


def payload_schema(kind: str) -> dict[str, Any]:
    return {
        "title": kind,
        "type": "object",
        "properties": {
            "type": {"const": kind, "type": "string"},
            "schema_version": {"const": SCHEMA_VERSION, "type": "integer"},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": _data(kind),
        },
        "required": ["type", "schema_version", "timestamp", "data"],
        "additionalProperties": False,
    }


def webhooks() -> dict[str, Any]:
    """The document's ``webhooks``: what an endpoint subscribed to each type receives."""
    return {
        kind: {
            "post": {
                "operationId": f"webhook_{kind.replace('.', '_')}",
                "summary": f"`{kind}`, signed (Standard Webhooks)",
                "tags": ["webhooks"],
                "parameters": [
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": text,
                        "schema": {"type": "string"},
                    }
                    for name, text in _HEADERS.items()
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": payload_schema(kind)}},
                },
                "responses": {
                    "200": {"description": "Any 2xx: delivered. Anything else is retried."}
                },
            }
        }
        for kind in EVENT_TYPES
    }
