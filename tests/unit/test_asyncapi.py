"""The AsyncAPI document says exactly what the code reads and writes on each topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import jsonschema
import pytest

from chainon.adapters.channels.port import OutboundMessage, RevokeMessage
from chainon.asyncapi import document, event_messages
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.event_schemas import public_events
from chainon.topic_records import DeadLetter, EventRecord
from chainon.topics import Topics


def validator(doc: dict[str, Any], message: str) -> jsonschema.Validator:
    """AsyncAPI's Schema Object is JSON Schema draft 7 (plus a few keywords)."""
    schema = {**doc["components"]["messages"][message]["payload"], "components": doc["components"]}
    return jsonschema.Draft7Validator(schema)


def record(model: Any) -> Any:
    return json.loads(model.model_dump_json())


DOC = document()
BRAND = uuid4()
EXAMPLES: list[tuple[str, Any]] = [
    (
        "Command",
        cmd.SendMessage(brand_id=BRAND, to="+33612345678", body="Bonjour", command_id=uuid4()),
    ),
    ("Command", cmd.ResolveConversation(brand_id=BRAND, conversation_id=uuid4())),
    (
        "Inbound",
        cmd.ReceiveMessage(
            provider="smpp",
            provider_message_id="1",
            channel=Channel.SMS,
            sender="+33612345678",
            recipient="+33939000001",
            body="Salut",
        ),
    ),
    ("Inbound", cmd.RecordReceipt(provider="smpp", provider_message_id="1", status="delivered")),
    (
        "OutboundMessage",
        OutboundMessage(
            message_id=uuid4(),
            conversation_id=uuid4(),
            brand_id=BRAND,
            channel=Channel.SMS,
            sender="+33939000001",
            recipient="+33612345678",
            body="x",
        ),
    ),
    (
        "RevokeMessage",
        RevokeMessage(
            message_id=uuid4(),
            conversation_id=uuid4(),
            brand_id=BRAND,
            channel=Channel.RCS,
            sender="+33939000001",
            recipient="+33612345678",
        ),
    ),
    (
        "Conversation.Resolved",
        EventRecord(
            type="Conversation.Resolved",
            aggregate_type="Conversation",
            aggregate_id=uuid4(),
            aggregate_version=3,
            position=12,
            timestamp=datetime.now(UTC),
            data={"by": "camille"},
        ),
    ),
    (
        "DeadLetter",
        DeadLetter(
            reason="invalid record",
            error="malformed JSON",
            topic="t",
            partition=0,
            offset=1,
            key=None,
            value="{",
            attempts=1,
            failed_at=datetime.now(UTC),
        ),
    ),
]


def test_every_topic_and_its_dead_letters_are_documented() -> None:
    addresses = {channel["address"] for channel in DOC["channels"].values()}
    assert addresses == set(Topics().all)
    assert DOC["asyncapi"] == "3.0.0"


@pytest.mark.parametrize(("message", "model"), EXAMPLES)
def test_what_the_code_writes_is_valid_against_the_document(message: str, model: Any) -> None:
    validator(DOC, message).validate(record(model))


@pytest.mark.parametrize(
    ("message", "bad"),
    [
        (
            "Inbound",
            {
                "type": "RecordReceipt",
                "provider": "p",
                "provider_message_id": "1",
                "status": "lost",
            },
        ),
        ("Inbound", {"type": "Teleport"}),
        (
            "Command",
            {
                "type": "SendMessage",
                "schema_version": 2,
                "brand_id": str(BRAND),
                "to": "x",
                "body": "y",
            },
        ),
        ("Conversation.Resolved", {"type": "Conversation.Resolved"}),
        (
            "Conversation.Resolved",
            {
                "type": "Conversation.Resolved",
                "schema_version": 1,
                "aggregate_type": "Conversation",
                "aggregate_id": str(uuid4()),
                "aggregate_version": 3,
                "position": 12,
                "timestamp": "2026-03-02T09:00:00Z",
                "data": {"by": "camille", "reason": "not an event field"},
            },
        ),
        ("Conversation.Resolved", record(EXAMPLES[-2][1]) | {"type": "Conversation.Reopened"}),
    ],
)
def test_what_the_code_refuses_is_invalid_against_the_document(
    message: str, bad: dict[str, Any]
) -> None:
    assert not validator(DOC, message).is_valid(bad)


def test_every_command_and_inbound_type_is_in_the_document() -> None:
    text = json.dumps(DOC)
    for model in (
        cmd.SendMessage,
        cmd.Reply,
        cmd.AssignConversation,
        cmd.TagConversation,
        cmd.ResolveConversation,
        cmd.ReopenConversation,
        cmd.AddContactAddress,
        cmd.ReceiveMessage,
        cmd.RecordSent,
        cmd.RecordSendFailure,
        cmd.RecordReceipt,
    ):
        assert f'"const": "{model.__name__}"' in text


def test_no_schema_carries_an_openapi_style_discriminator_object() -> None:
    """AsyncAPI's ``discriminator`` is a property name; pydantic writes OpenAPI's object."""

    def objects(node: Any) -> list[Any]:
        if isinstance(node, list):
            return [found for item in node for found in objects(item)]
        if not isinstance(node, dict):
            return []
        here = [node["discriminator"]] if isinstance(node.get("discriminator"), dict) else []
        return here + [found for value in node.values() for found in objects(value)]

    assert objects(DOC) == []


def test_every_branch_of_a_union_names_its_tag() -> None:
    """With the discriminator objects gone, the ``const`` tags are what picks a branch."""
    schemas = DOC["components"]["schemas"]
    for message in ("Command", "Inbound"):
        branches = DOC["components"]["messages"][message]["payload"]["oneOf"]
        tags = [
            schemas[b["$ref"].rsplit("/", 1)[-1]]["properties"]["type"]["const"] for b in branches
        ]
        assert len(set(tags)) == len(tags) > 1
    for name in ("SuggestedReply", "SuggestedAction"):
        assert "const" in schemas[name]["properties"]["kind"]


def test_each_public_event_type_is_a_message_of_the_events_channel() -> None:
    kinds = event_messages(DOC)
    assert kinds == list(public_events())
    assert {"Conversation.MessageReceived", "Contact.Registered", "Brand.Registered"} <= set(kinds)
    received = DOC["components"]["messages"]["Conversation.MessageReceived"]["payload"]
    assert received["properties"]["schema_version"]["const"] == 2
    assert received["properties"]["data"]["additionalProperties"] is False
    assert "body" in received["properties"]["data"]["required"]


@pytest.mark.parametrize("name", list(DOC["components"]["messages"]))
def test_each_message_has_its_name_content_type_kafka_key_and_a_valid_example(name: str) -> None:
    message = DOC["components"]["messages"][name]
    assert message["name"] == name
    assert message["contentType"] == "application/json"
    key = message["bindings"]["kafka"]["key"]
    assert key["type"] == "string"
    assert key["description"]
    assert message["examples"]
    for example in message["examples"]:
        validator(DOC, name).validate(example["payload"])
        if "headers" in message:
            jsonschema.Draft7Validator(message["headers"]).validate(example["headers"])


def test_the_keys_say_what_they_are() -> None:
    messages = DOC["components"]["messages"]
    assert messages["Conversation.Opened"]["bindings"]["kafka"]["key"]["format"] == "uuid"
    assert (
        "aggregate id" in messages["Conversation.Opened"]["bindings"]["kafka"]["key"]["description"]
    )
    assert "contact's" in messages["Inbound"]["bindings"]["kafka"]["key"]["description"]
    assert (
        "conversation id" in messages["OutboundMessage"]["bindings"]["kafka"]["key"]["description"]
    )
    assert messages["DeadLetter"]["headers"]["required"] == ["reason"]


def test_the_outbound_channel_carries_both_of_its_records() -> None:
    assert set(DOC["channels"]["OutboundMessage"]["messages"]) == {
        "OutboundMessage",
        "RevokeMessage",
    }
