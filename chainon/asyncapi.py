"""The AsyncAPI document of Chainon's topics, generated from the record models themselves,
so the published contract cannot drift from what the code reads and writes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from adapters.channels.port import OutboundMessage
from chainon import __version__
from chainon.topic_records import COMMANDS, INBOUND, DeadLetter, EventRecord
from chainon.topics import Topics

REF_TEMPLATE = "#/components/schemas/{model}"


def _schema(adapter: TypeAdapter[Any] | type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    schema = (
        adapter.json_schema(ref_template=REF_TEMPLATE)
        if isinstance(adapter, TypeAdapter)
        else adapter.model_json_schema(ref_template=REF_TEMPLATE)
    )
    defs.update(schema.pop("$defs", {}))
    return schema


def payloads() -> dict[str, TypeAdapter[Any] | type[BaseModel]]:
    """Each message's payload model, by message name."""
    return {
        "Command": COMMANDS,
        "Inbound": INBOUND,
        "OutboundMessage": OutboundMessage,
        "Event": EventRecord,
        "DeadLetter": DeadLetter,
    }


def document(topics: Topics | None = None) -> dict[str, Any]:
    topics = topics or Topics()
    defs: dict[str, Any] = {}
    messages = {
        name: {
            "name": name,
            "contentType": "application/json",
            "payload": _schema(model, defs),
        }
        for name, model in payloads().items()
    }
    keys = {
        "Command": "the conversation id, or the brand id and the recipient",
        "Inbound": "a uuid5 of the two addresses; a provider's message id for receipts",
        "OutboundMessage": "the conversation id",
        "Event": "the aggregate id",
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, topic, action, description in (
        ("Command", topics.commands, "receive", "A brand's systems ask the core to act."),
        ("Inbound", topics.inbound, "receive", "Channel adapters report messages and receipts."),
        ("OutboundMessage", topics.outbound, "send", "The core hands messages to channels."),
        ("Event", topics.events, "send", "Every public domain event, in the store's order."),
    ):
        channels[name] = {
            "address": topic,
            "description": f"{description} Key: {keys[name]}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
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
        "asyncapi": "3.0.0",
        "info": {
            "title": "Chainon",
            "version": __version__,
            "description": (
                "Chainon's Kafka topics. Values are JSON objects with a `type` and a "
                "`schema_version`; records of one key keep their order."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": defs},
    }
