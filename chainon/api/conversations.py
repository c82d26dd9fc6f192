"""Conversations: the list, one a page at a time, and what agents do to them."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from chainon.api.answers import act
from chainon.api.auditing import audit
from chainon.api.conversation_pages import Order, cursor_of, entry, mark_of, read_page
from chainon.api.cursors import CursorParam, conversations_cursor, conversations_position
from chainon.api.deps import BrandDep, CallerDep, IdempotencyDep, RuntimeDep
from chainon.api.queue_stream import teams_of
from chainon.api.schemas import (
    Accepted,
    AssignIn,
    ConversationOut,
    ConversationPage,
    ConversationSummaryOut,
    FlowIn,
    HandoffOut,
    ReopenIn,
    ResolveIn,
    TagsIn,
    TimelineEntry,
)
from chainon.audit import Action
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.bot import Bot
from chainon.domain.plain_text import PlainText
from chainon.flows import conversation_events
from chainon.projections.conversation_list import ConversationFilter, search

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

MAX_WAIT_SECONDS = 5.0


def timeline_entries(core: Core, conversation_id: UUID) -> list[TimelineEntry]:
    """Every recorded fact about the conversation, its bot's dialogues included, in the
    order it was recorded."""
    return [entry(event) for event in conversation_events(core, conversation_id)]


def bot_facts(core: Core, conversation_id: UUID) -> tuple[HandoffOut | None, int | None]:
    """The bot's last hand-off, and the latest CSAT rating, in the conversation."""
    bot = core.find(Bot, ids.bot_id(conversation_id))
    if bot is None:
        return None, None
    last = bot.handoff
    return (None if last is None else HandoffOut(**last)), bot.csat


@router.get("", response_model=ConversationPage)
async def list_conversations(
    caller: CallerDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
    agent: Annotated[PlainText | None, Query(max_length=128)] = None,
    team: Annotated[PlainText | None, Query(max_length=128)] = None,
    tag: Annotated[PlainText | None, Query(max_length=64)] = None,
    contact_id: UUID | None = None,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    min_position: Annotated[
        int | None,
        Query(ge=0, description="Wait (up to 5 s) until the list includes this write."),
    ] = None,
) -> ConversationPage:
    """Newest activity first; pass ``next_cursor`` back as ``cursor`` for the next page.
    An agent sees its teams' conversations only."""
    views = runtime.views
    caught_up = None
    if min_position is not None:
        caught_up = await runtime.caught_up(min_position, MAX_WAIT_SECONDS)
    where = ConversationFilter(
        brand_id=caller.brand.id,
        status=status,
        agent=agent,
        team=team,
        teams=teams_of(caller.principal),
        tag=tag.strip().lower() if tag else None,
        contact_id=contact_id,
        before=conversations_position(cursor) if cursor else None,
        limit=limit + 1,
    )
    position = await runtime.call(lambda: views.position)
    rows = await runtime.call(search, views.store, where)
    page, more = rows[:limit], len(rows) > limit
    return ConversationPage(
        items=[
            ConversationSummaryOut(
                id=r.conversation_id,
                contact_id=r.contact_id,
                number=r.number,
                status=r.status,
                agent=r.agent,
                team=r.team,
                tags=list(r.tags),
                opened_at=r.opened_at,
                last_activity_at=r.last_activity_at,
                last_direction=r.last_direction,
                last_channel=r.last_channel,
                message_count=r.message_count,
            )
            for r in page
        ],
        next_cursor=conversations_cursor(page[-1].cursor) if more else None,
        position=max(position, min_position) if caught_up and min_position else position,
        caught_up=caught_up,
    )


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: UUID,
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    order: Order = Order.NEWEST,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationOut:
    """The conversation with a page of its messages (each with its delivery history) and
    a page of its timeline, newest first (``order=oldest``: from the start); pass
    ``next_cursor`` back as ``cursor`` for the next page of both. A page costs the same
    at ten messages and at ten thousand."""
    at = mark_of(order, cursor) if cursor else None
    page = await runtime.call(read_page, runtime.core, brand.id, conversation_id, order, limit, at)
    shown = page.conversation
    shown.next_cursor = cursor_of(order, page.mark) if page.mark is not None else None
    shown.handoff, shown.csat = await runtime.call(bot_facts, runtime.core, conversation_id)
    await audit(request, runtime, brand.id, Action.CONVERSATION_READ, conversation_id)
    return shown


@router.post("/{conversation_id}/flow")
async def start_flow(
    conversation_id: UUID,
    body: FlowIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    """Starts the latest published version of a flow: its first question is queued.
    404 for an unknown flow; 409 when a dialogue already waits for an answer here."""
    command = cmd.StartFlow(brand_id=brand.id, conversation_id=conversation_id, flow=body.flow)
    return await act(runtime, brand, idempotency, "flow", command, response)


@router.post("/{conversation_id}/assignment")
async def assign(
    conversation_id: UUID,
    body: AssignIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    """Assigns to an agent and/or a team; null clears."""
    command = cmd.AssignConversation(
        brand_id=brand.id, conversation_id=conversation_id, agent=body.agent, team=body.team
    )
    return await act(runtime, brand, idempotency, "assign", command, response)


@router.post("/{conversation_id}/tags")
async def tag(
    conversation_id: UUID,
    body: TagsIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    command = cmd.TagConversation(
        brand_id=brand.id, conversation_id=conversation_id, add=body.add, remove=body.remove
    )
    return await act(runtime, brand, idempotency, "tag", command, response)


@router.post("/{conversation_id}/resolve")
async def resolve(
    conversation_id: UUID,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
    body: ResolveIn | None = None,
) -> Accepted:
    """Resolves; 409 when it is resolved already."""
    command = cmd.ResolveConversation(
        brand_id=brand.id, conversation_id=conversation_id, by=(body or ResolveIn()).by
    )
    return await act(runtime, brand, idempotency, "resolve", command, response)


@router.post("/{conversation_id}/reopen")
async def reopen(
    conversation_id: UUID,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
    body: ReopenIn | None = None,
) -> Accepted:
    """Reopens a resolved conversation; 409 when it is open."""
    command = cmd.ReopenConversation(
        brand_id=brand.id, conversation_id=conversation_id, reason=(body or ReopenIn()).reason
    )
    return await act(runtime, brand, idempotency, "reopen", command, response)
