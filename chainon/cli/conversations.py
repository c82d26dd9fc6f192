"""Conversations as an operator reads them: the list, and one timeline (also as it stood)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from chainon.cli.base import brand_of, console, conversations, runtime_of, settings_of
from chainon.domain.errors import InvalidInput

if TYPE_CHECKING:
    from chainon.domain.conversation import Conversation


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@conversations.command("list")
def conversations_list(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    status: Annotated[Status | None, typer.Option()] = None,
    agent: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """List a brand's conversations, latest activity first."""
    from chainon import terminal
    from chainon.domain.contact import Contact
    from chainon.domain.conversation import normalise_tag
    from chainon.projections.conversation_list import ConversationFilter, search

    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        # No server loop runs here: bring the view up to date before reading it.
        runtime.views.run_until_idle()
        where = ConversationFilter(
            brand_id=brand_id,
            status=status.value if status else None,
            agent=agent,
            tag=normalise_tag(tag) if tag is not None else None,
            limit=limit,
        )
        rows = search(runtime.views.store, where)
        contacts = {
            contact_id: str(runtime.core.get(Contact, contact_id).addresses[0])
            for contact_id in {row.contact_id for row in rows}
        }
    console().print(terminal.conversation_list(rows, contacts))


@conversations.command("show")
def conversations_show(
    ctx: typer.Context,
    conversation_id: Annotated[UUID, typer.Argument(metavar="CONVERSATION_ID")],
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
            help="Show it as it stood then (UTC).",
        ),
    ] = None,
) -> None:
    """Show a conversation's timeline: messages with their status history, and handling."""
    from chainon import terminal
    from chainon.domain.contact import Contact
    from chainon.domain.conversation import Conversation
    from chainon.flows import conversation_events

    with runtime_of(settings_of(ctx)) as runtime:
        found = brand_of(runtime, brand)
        conversation = runtime.core.conversation_of(found.id, conversation_id)
        contact = runtime.core.get(Contact, conversation.contact_id)
        events = conversation_events(runtime.core, conversation_id)
    if as_of is not None:
        moment = as_of.replace(tzinfo=as_of.tzinfo or UTC)
        own = [e for e in events if isinstance(e, Conversation.Event)]
        conversation, _ = _as_of(own, moment)
        events = [e for e in events if e.timestamp <= moment]
    view = terminal.render_timeline(
        conversation, events, brand=found.name, contact=str(contact.addresses[0])
    )
    console().print(view)


def _as_of(events: list[Any], moment: datetime) -> tuple[Conversation, list[Any]]:
    """The conversation replayed from its events up to ``moment``: event sourcing's
    time travel, for "what did the agent see when they answered?"."""
    from chainon.domain.conversation import Conversation

    kept = [e for e in events if e.timestamp <= moment]
    if not kept:
        raise InvalidInput(
            f"the conversation did not exist yet at {moment:%Y-%m-%d %H:%M:%S}", field="as-of"
        )
    state = None
    for event in kept:
        state = event.mutate(state)
    assert isinstance(state, Conversation)
    return state, kept
