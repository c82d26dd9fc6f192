"""The AsyncAPI document of Chainon's topics, generated from the record models themselves,
so the published contract cannot drift from what the code reads and writes.

It follows AsyncAPI 3.0.0 and must validate against the spec's official JSON Schema
(``make test`` checks it with the ``@asyncapi/specs`` package): AsyncAPI's Schema Object is
JSON Schema draft 7 plus a ``discriminator`` that is a property *name*, so pydantic's
OpenAPI-style ``discriminator`` objects are left out; every branch of those unions carries a
``const`` on its tag, which is all a validator needs to pick one.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, TypeAdapter

from chainon import __version__
from chainon.adapters.channels.port import OutboundMessage, RevokeMessage
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.message_status import MessageStatus
from chainon.event_schemas import EXAMPLE_AT, example, public_events, record_schema
from chainon.topic_records import COMMANDS, INBOUND, DeadLetter, EventRecord
from chainon.topics import Topics

SPEC_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
REF_TEMPLATE = "#/components/schemas/{model}"
BRAND = UUID("5b0a4a52-1c1e-5f0e-9a59-4a6f2f3d9c01")
CONVERSATION = UUID("0c6b1d58-8a0e-5b64-8c1c-2f7b9a4c1e02")
MESSAGE = UUID("9e3f2a71-4b5c-5d6e-8f70-1a2b3c4d5e03")
UUID_KEY = {"type": "string", "format": "uuid"}


def _without_discriminators(schema: Any) -> Any:
    """pydantic's ``{"propertyName", "mapping"}`` objects, taken out wherever they are."""
    if isinstance(schema, list):
        return [_without_discriminators(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: _without_discriminators(value)
        for key, value in schema.items()
        if not (key == "discriminator" and isinstance(value, dict))
    }


def _schema(adapter: TypeAdapter[Any] | type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    schema = (
        adapter.json_schema(ref_template=REF_TEMPLATE)
        if isinstance(adapter, TypeAdapter)
        else adapter.model_json_schema(ref_template=REF_TEMPLATE)
    )
    defs.update(_without_discriminators(schema.pop("$defs", {})))
    result: dict[str, Any] = _without_discriminators(schema)
    return result


def payloads() -> dict[str, TypeAdapter[Any] | type[BaseModel]]:
    """Each message's payload model, by message name (the events have one message per type:
    ``event_messages``)."""
    return {
        "Command": COMMANDS,
        "Inbound": INBOUND,
        "OutboundMessage": OutboundMessage,
        "RevokeMessage": RevokeMessage,
        "DeadLetter": DeadLetter,
    }


def _examples() -> dict[str, list[BaseModel]]:
    """What each message looks like on the wire: the records the code itself writes."""
    outbound = {
        "message_id": MESSAGE,
        "conversation_id": CONVERSATION,
        "brand_id": BRAND,
        "channel": Channel.SMS,
        "sender": "+33939000001",
        "recipient": "+33612345678",
    }
    return {
        "Command": [
            cmd.SendMessage(
                brand_id=BRAND,
                to="+33612345678",
                body="Votre commande est prête !",
                command_id=UUID("d1f0e2c3-b4a5-5968-8776-655443322104"),
            )
        ],
        "Inbound": [
            cmd.ReceiveMessage(
                provider="smpp",
                provider_message_id="4f2a01",
                channel=Channel.SMS,
                sender="+33612345678",
                recipient="+33939000001",
                body="Bonjour, ma commande est-elle prête ?",
            ),
            cmd.RecordReceipt(
                provider="smpp", provider_message_id="4f2a02", status=MessageStatus.DELIVERED
            ),
        ],
        "OutboundMessage": [OutboundMessage(**outbound, body="Votre commande est prête !")],
        "RevokeMessage": [
            RevokeMessage(**{**outbound, "channel": Channel.RCS}, provider_message_id="rbm-1")
        ],
        "DeadLetter": [
            DeadLetter(
                reason="invalid record",
                error="malformed JSON: Expecting value: line 1 column 1 (char 0)",
                topic="chainon.commands.v1",
                partition=0,
                offset=42,
                key="+33612345678",
                value="{not json",
                attempts=1,
                failed_at=EXAMPLE_AT,
            )
        ],
    }


def _kafka(key: dict[str, Any]) -> dict[str, Any]:
    return {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}}


KEYS: dict[str, dict[str, Any]] = {
    "Command": {
        "type": "string",
        "description": (
            "Chosen by the brand's system; records of one key keep their order: the "
            "conversation id, or the recipient's address for a SendMessage."
        ),
    },
    "Inbound": {
        "type": "string",
        "description": (
            "ReceiveMessage: a uuid5 of the contact's and the brand's addresses (one "
            "conversation, one partition); RecordSent and RecordReceipt: the provider's "
            "message id, so a receipt follows its send; RecordSendFailure: our message id; "
            "RecordCapability, RecordRevocation, EnforceFallbackDeadline: the conversation id."
        ),
    },
    "OutboundMessage": {**UUID_KEY, "description": "The conversation id."},
    "RevokeMessage": {
        **UUID_KEY,
        "description": "The conversation id: the revocation follows the send it revokes.",
    },
    "DeadLetter": {
        "type": "string",
        "description": (
            "The original record's key (empty if it had none); for a message a channel "
            "refused before it became a record, the provider's name."
        ),
    },
    "Event": {
        **UUID_KEY,
        "description": "The aggregate id (conversation, contact, brand…): one aggregate's "
        "events keep their order.",
    },
}
DEAD_LETTER_HEADERS = {
    "type": "object",
    "properties": {"reason": {"type": "string", "description": "The reason, as in the value."}},
    "required": ["reason"],
}


def messages() -> tuple[dict[str, Any], dict[str, Any]]:
    """The document's messages by name, and the schemas they refer to."""
    defs: dict[str, Any] = {}
    found: dict[str, Any] = {}
    examples = _examples()
    for name, model in payloads().items():
        message: dict[str, Any] = {
            "name": name,
            "contentType": "application/json",
            "payload": _schema(model, defs),
            "bindings": _kafka(KEYS[name]),
            "examples": [
                {"name": type(record).__name__, "payload": record.model_dump(mode="json")}
                for record in examples[name]
            ],
        }
        if name == "DeadLetter":
            message["headers"] = DEAD_LETTER_HEADERS
            message["examples"][0]["headers"] = {"reason": "invalid record"}
        found[name] = message
    envelope = _schema(EventRecord, defs)
    for kind, event_class in public_events().items():
        payload = record_schema(kind, event_class, envelope)
        found[kind] = {
            "name": kind,
            "contentType": "application/json",
            "payload": payload,
            "bindings": _kafka(KEYS["Event"]),
            "examples": [{"name": kind, "payload": example(payload)}],
        }
    return found, defs


def event_messages(doc: dict[str, Any]) -> list[str]:
    """The names of the messages the events topic carries: one per event type."""
    return [ref.rsplit("/", 1)[-1] for ref in _refs(doc["channels"]["Event"]["messages"])]


def _refs(messages: dict[str, Any]) -> list[str]:
    return [m["$ref"] for m in messages.values()]


def document(topics: Topics | None = None) -> dict[str, Any]:
    topics = topics or Topics()
    found, defs = messages()
    events = [name for name in found if name not in payloads()]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, topic, action, description, carried in (
        ("Command", topics.commands, "receive", "A brand's systems ask the core to act.", None),
        (
            "Inbound",
            topics.inbound,
            "receive",
            "Channel adapters report messages and receipts.",
            None,
        ),
        (
            "OutboundMessage",
            topics.outbound,
            "send",
            "The core hands messages to channels, and asks for revocations.",
            ["OutboundMessage", "RevokeMessage"],
        ),
        (
            "Event",
            topics.events,
            "send",
            "Every public domain event, in the store's order.",
            events,
        ),
    ):
        channels[name] = {
            "address": topic,
            "description": description,
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in carried or [name]},
        }
        channels[f"{name}DeadLetters"] = {
            "address": Topics.dlq(topic),
            "description": f"Records of {topic} that could not be processed, with the reason.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        }
        operations[f"{action}{name}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
        }
    return {
        "asyncapi": SPEC_VERSION,
        "info": {
            "title": "Chainon",
            "version": __version__,
            "description": (
                "Chainon's Kafka topics. Values are JSON objects with a `type` and a "
                "`schema_version`; records of one key keep their order (each message's "
                "Kafka binding says what its key is)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": found, "schemas": defs},
    }
