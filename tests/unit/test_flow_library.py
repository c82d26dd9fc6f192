"""A brand's flows: each publication a new version unless the document is the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from chainon.domain.errors import NotFound
from chainon.domain.flow import parse
from chainon.domain.flow_library import FlowLibrary

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def doc(reprompts: int = 2) -> Any:
    return parse(
        {
            "name": "csat",
            "steps": [
                {
                    "id": "score",
                    "type": "ask",
                    "text": "Note ?",
                    "answer": {"kind": "number", "min": 1, "max": 5},
                    "max_reprompts": reprompts,
                }
            ],
        }
    )


def test_versions_count_up_and_the_same_document_makes_none() -> None:
    library = FlowLibrary.open(uuid4(), at=AT)
    first, new = library.publish(doc(), at=AT)
    assert (first.version, new) == (1, True)
    same, new = library.publish(doc(), at=AT + timedelta(hours=1))
    assert (same, new) == (first, False)
    second, new = library.publish(doc(reprompts=3), at=AT + timedelta(hours=2))
    assert (second.version, new) == (2, True)
    assert library.published("csat", 1).document["steps"][0]["max_reprompts"] == 2
    assert library.published("csat").flow() == doc(reprompts=3)
    assert [p.version for p in library.latest()] == [2]


def test_a_replayed_library_holds_the_same_versions() -> None:
    library = FlowLibrary.open(uuid4(), at=AT)
    library.publish(doc(), at=AT)
    library.publish(doc(reprompts=0), at=AT)
    replayed = None
    for event in library.collect_events():
        replayed = event.mutate(replayed)
    assert isinstance(replayed, FlowLibrary)
    assert replayed.latest() == library.latest()


def test_an_unknown_flow_or_version_is_not_found() -> None:
    library = FlowLibrary.open(uuid4(), at=AT)
    with pytest.raises(NotFound):
        library.published("csat")
    library.publish(doc(), at=AT)
    with pytest.raises(NotFound) as missing:
        library.published("csat", 2)
    assert missing.value.field == "version"
