"""A brand's published bot flows, every version of each kept.

One aggregate per brand holds them all, as the webhook endpoints do: the list needs no
index, and a name is unique within the brand by construction. A dialogue records the
version it started on and finishes on it, so a version, once published, never changes;
publishing the same document again (same canonical hash) makes no new version, so a
deployment script may publish on every run.

Its events are not public (``domain.public_events``): a flow is the brand's configuration,
not a fact about a conversation; the dialogues' own events will be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids
from chainon.domain.errors import NotFound
from chainon.domain.flow import FlowDocument, parse


@dataclass(frozen=True)
class PublishedFlow:
    name: str
    version: int
    sha256: str
    document: dict[str, Any]
    published_at: datetime

    def flow(self) -> FlowDocument:
        """The document as the engine runs it (it was valid when published: checks added
        since, such as the regular-expression guard, do not stop a version in use)."""
        return parse(self.document, stored=True)


class FlowLibrary(Aggregate):
    TOPIC = "chainon:FlowLibrary"

    class Event(Aggregate.Event):
        TOPIC = "chainon:FlowLibrary.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:FlowLibrary.Created"

    class Opened(Created):
        TOPIC = "chainon:FlowLibrary.Opened"
        brand_id: UUID

    class FlowPublished(Event):
        """Version ``version`` of flow ``name``: ``document`` is the canonical document
        (every default spelt out) and ``sha256`` its hash."""

        TOPIC = "chainon:FlowLibrary.FlowPublished"
        name: str
        version: int
        sha256: str
        document: dict[str, Any]

    @event(Opened)
    def __init__(self, brand_id: UUID) -> None:
        self.brand_id = brand_id
        self.versions: dict[str, list[PublishedFlow]] = {}

    @classmethod
    def open(cls, brand_id: UUID, *, at: datetime) -> FlowLibrary:
        return cls._create(
            cls.Opened, id=ids.flow_library_id(brand_id), timestamp=at, brand_id=brand_id
        )

    def publish(self, document: FlowDocument, *, at: datetime) -> tuple[PublishedFlow, bool]:
        """The flow's latest version after publishing ``document``, and whether it is new."""
        digest = document.digest()
        held = self.versions.get(document.name, [])
        if held and held[-1].sha256 == digest:
            return held[-1], False
        self._published(
            name=document.name,
            version=len(held) + 1,
            sha256=digest,
            document=document.canonical(),
            timestamp=at,
        )
        return self.versions[document.name][-1], True

    @event(FlowPublished)
    def _published(
        self, name: str, version: int, sha256: str, document: dict[str, Any], timestamp: datetime
    ) -> None:
        published = PublishedFlow(name, version, sha256, document, timestamp)
        self.versions.setdefault(name, []).append(published)

    def latest(self) -> list[PublishedFlow]:
        """Each flow's latest version, by name."""
        return [self.versions[name][-1] for name in sorted(self.versions)]

    def published(self, name: str, version: int | None = None) -> PublishedFlow:
        """Version ``version`` of ``name`` (the latest when None)."""
        held = self.versions.get(name)
        if not held:
            raise NotFound(f"no flow {name!r} is published", field="name")
        if version is None:
            return held[-1]
        if not 1 <= version <= len(held):
            raise NotFound(f"flow {name!r} has versions 1 to {len(held)}", field="version")
        return held[version - 1]
