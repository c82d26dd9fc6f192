"""The AsyncAPI document says exactly what the code reads and writes on each topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import jsonschema
import pytest

from adapters.channels.port import OutboundMessage
from chainon.asyncapi import document
from chainon.topic_records import DeadLetter, EventRecord
from chainon.topics import Topics
from domain import commands as cmd
from domain.channels import Channel


def validator(doc: dict[str, Any], message: str) -> jsonschema.Validator:
    schema = {**doc["components"]["messages"][message]["payload"], "components": doc["components"]}
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


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
        "Event",
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
        ("Event", {"type": "Conversation.Resolved"}),
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
