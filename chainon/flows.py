"""A brand's flows published and read on the store: the API and the CLI share these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from chainon.core import Core
from chainon.domain import ids
from chainon.domain.bot import Bot
from chainon.domain.errors import InvalidInput
from chainon.domain.flow_library import FlowLibrary, PublishedFlow
from chainon.flow_documents import load


def conversation_events(core: Core, conversation_id: UUID) -> list[Any]:
    """The conversation's events and its bot's, each in its own recorded order, merged by
    time (the conversation's first when both were recorded at once: the message, then
    what the bot made of it)."""
    own: list[Any] = list(core.events.get(conversation_id))
    bot: list[Any] = [
        e for e in core.events.get(ids.bot_id(conversation_id)) if not isinstance(e, Bot.Opened)
    ]
    merged: list[Any] = []
    for event in own:
        while bot and bot[0].timestamp < event.timestamp:
            merged.append(bot.pop(0))
        merged.append(event)
    return merged + bot


def library_of(core: Core, brand_id: UUID) -> FlowLibrary | None:
    return core.find(FlowLibrary, ids.flow_library_id(brand_id))


def publish(
    core: Core, brand_id: UUID, source: str, *, name: str | None = None
) -> tuple[PublishedFlow, bool]:
    """Publishes the flow ``source`` writes; with ``name`` (the API's path), the document
    must carry that name. Returns the latest version and whether it is new."""
    document = load(source)
    if name is not None and document.name != name:
        raise InvalidInput(
            f"the document is flow {document.name!r}, published as {name!r}", field="name"
        )
    at = datetime.now(UTC)
    library = library_of(core, brand_id) or FlowLibrary.open(brand_id, at=at)
    published, new = library.publish(document, at=at)
    if new:
        core.save_or_conflict(library, what="the flow")
    return published, new


def listed(core: Core, brand_id: UUID) -> list[PublishedFlow]:
    library = library_of(core, brand_id)
    return library.latest() if library else []


def get(core: Core, brand_id: UUID, name: str, version: int | None = None) -> PublishedFlow:
    library = library_of(core, brand_id) or FlowLibrary.open(brand_id, at=datetime.now(UTC))
    return library.published(name, version)
