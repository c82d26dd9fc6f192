"""The record of every public event on the events topic, as a JSON Schema read from the event
class's own annotations: a field added to an event is in the published contract the day it
is added, and an integrator can validate each ``type`` against its own schema rather than
against a ``data`` that could be anything.
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate
from pydantic import ConfigDict, create_model

from chainon.domain.bot import Bot
from chainon.domain.brand import Brand
from chainon.domain.campaign import Campaign
from chainon.domain.consent import Consent
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.public_events import HIDDEN_FIELDS, is_public
from chainon.domain.refusal import RefusedInbound

# Every aggregate some of whose events leave the core (domain.public_events.PUBLIC*).
AGGREGATES: tuple[type[Aggregate], ...] = (
    Conversation,
    Contact,
    RefusedInbound,
    Brand,
    Consent,
    Campaign,
    Bot,
)
EXAMPLE_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# What an example shows for a field of these names, rather than a placeholder.
SAMPLES: dict[str, object] = {
    "channel": "sms",
    "sender": "+33612345678",
    "recipient": "+33939000001",
    "address": "+33612345678",
    "address_kind": "phone",
    "body": "Bonjour, ma commande est-elle prête ?",
    "provider": "sandbox",
    "how": "assigned",
    "agent": "camille",
    "tag": "livraison",
}


def public_events() -> dict[str, type[Aggregate.Event]]:
    """Each public event class by the ``type`` its records carry (``Conversation.Opened``).

    Only the leaves: ``Conversation.Event`` and ``Conversation.Created`` are bases that are
    never stored themselves."""
    found: dict[str, type[Aggregate.Event]] = {}
    for aggregate in AGGREGATES:
        nested = [
            v
            for v in vars(aggregate).values()
            if isinstance(v, type) and issubclass(v, Aggregate.Event)
        ]
        for event_class in nested:
            if any(other is not event_class and issubclass(other, event_class) for other in nested):
                continue
            topic: str = event_class.TOPIC  # type: ignore[attr-defined]
            if is_public(topic):
                found[topic.removeprefix("chainon:")] = event_class
    return dict(sorted(found.items()))


def data_schema(event_class: type[Aggregate.Event]) -> dict[str, Any]:
    """The event's own fields (``domain.public_events.event_data``), nothing else."""
    fields: dict[str, Any] = {
        name: (hint, ...)
        for name, hint in typing.get_type_hints(event_class).items()
        if name not in HIDDEN_FIELDS and typing.get_origin(hint) is not typing.ClassVar
    }
    model = create_model(event_class.__name__, __config__=ConfigDict(extra="forbid"), **fields)
    schema: dict[str, Any] = model.model_json_schema()
    schema.pop("title", None)
    return schema


def record_schema(
    kind: str, event_class: type[Aggregate.Event], envelope: dict[str, Any]
) -> dict[str, Any]:
    """The ``EventRecord`` envelope with this type's tag, version and data."""
    version = getattr(event_class, "class_version", 1)
    properties = {
        **envelope["properties"],
        "type": {"const": kind, "type": "string"},
        "schema_version": {"const": version, "type": "integer"},
        "aggregate_type": {"const": kind.split(".")[0], "type": "string"},
        "data": data_schema(event_class),
    }
    return {
        **envelope,
        "title": kind,
        "properties": properties,
        "required": sorted({*envelope.get("required", ()), "type", "schema_version"}),
        "additionalProperties": False,
    }


def example(schema: dict[str, Any], name: str = "") -> Any:
    """A value the schema accepts, made up from its types and the field's name: every event
    message of the document carries one, as AsyncAPI tools show them."""
    if "const" in schema:
        return schema["const"]
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        return example(branches[0], name)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: example(sub, key) for key, sub in properties.items()}
    if kind == "array":
        return [example(schema.get("items", {}), name)]
    if kind == "integer":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return str(uuid5(NAMESPACE_URL, f"chainon:example:{name}"))
    if schema.get("format") == "date-time":
        return EXAMPLE_AT.isoformat().replace("+00:00", "Z")
    return SAMPLES.get(name, name or "text")
