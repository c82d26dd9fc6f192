"""The agent queue as server-sent events: the waiting list on connect, then what changed.

The read model cannot notify (SQLite), so each client polls its position every half
second: one cheap query while nothing moves. Each event's ``id`` is the position it
reflects, so a console that reconnects with ``Last-Event-ID`` gets the rows it missed
rather than a new snapshot. A comment line every 15 s keeps proxies from closing the
connection while the queue is quiet.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from chainon.api.deps import CallerDep, RuntimeDep
from chainon.domain.access import Principal
from chainon.projections.agent_queue import QueueItem, changes_since, waiting
from chainon.runtime import Runtime

router = APIRouter(tags=["queue"])  # included under /v1 by chainon.api.queue

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
SNAPSHOT_LIMIT = 500


class HandoffSummaryOut(BaseModel):
    flow: str
    reason: str
    summary: str
    answers: dict[str, str]


class QueueItemOut(BaseModel):
    id: UUID
    contact_id: UUID
    status: str
    waiting: bool
    agent: str | None
    team: str | None
    priority: int
    waiting_since: datetime | None
    sla_due_at: datetime | None
    age_seconds: int
    breached: bool
    last_message_at: datetime | None
    last_direction: str | None
    opened_at: datetime
    possible_opt_out: str | None = Field(
        None,
        description="The conversation's last reply may be an opt-out (the detector's rule "
        "that fired, unsure): marketing is stopped; a person should confirm or restore it.",
    )
    handoff: HandoffSummaryOut | None = Field(
        None, description="What a bot handed on: its flow, why, its summary and the answers."
    )


def item_out(item: QueueItem) -> QueueItemOut:
    return QueueItemOut(
        id=UUID(item.conversation_id),
        contact_id=UUID(item.contact_id),
        status=item.status,
        waiting=item.waiting,
        agent=item.agent,
        team=item.team,
        priority=item.priority,
        waiting_since=item.waiting_since,
        sla_due_at=item.sla_due_at,
        age_seconds=item.age_seconds,
        breached=item.breached,
        last_message_at=item.last_message_at,
        possible_opt_out=item.possible_opt_out,
        last_direction=item.last_direction,
        opened_at=item.opened_at,
        handoff=HandoffSummaryOut(**vars(item.handoff)) if item.handoff else None,
    )


def frame(event: str, position: int, items: list[QueueItem]) -> str:
    data: dict[str, Any] = {
        "position": position,
        "items": [item_out(i).model_dump(mode="json") for i in items],
    }
    return f"event: {event}\nid: {position}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get(
    "/queue/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def stream_queue(
    request: Request,
    caller: CallerDep,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """``queue.snapshot`` (the waiting list) on connect, then ``queue.changed`` with every
    row that changed, waiting or not (``waiting: false`` means: take it off the list).
    An agent's stream carries its teams' conversations only."""
    resume = resume_from(last_event_id)
    return StreamingResponse(
        events(request, runtime, caller.brand.id, resume, teams_of(caller.principal)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def resume_from(last_event_id: str | None) -> int | None:
    return int(last_event_id) if last_event_id and last_event_id.isdigit() else None


def seen_by(teams: tuple[str, ...], changed: list[QueueItem], shown: set[str]) -> list[QueueItem]:
    """The changed rows an agent of ``teams`` sees; one its stream showed that went to
    another team comes as ``waiting: false`` (off the list) and says no more of it."""
    seen = []
    for item in changed:
        if item.team in teams:
            shown.add(item.conversation_id)
            seen.append(item)
        elif item.conversation_id in shown:
            shown.discard(item.conversation_id)
            seen.append(replace(item, waiting=False, team=None, agent=None, handoff=None))
    return seen


def teams_of(principal: Principal) -> tuple[str, ...] | None:
    """The teams whose conversations the principal sees, for a read model's filter."""
    teams = principal.teams
    return None if teams is None else tuple(sorted(teams))


async def events(
    request: Request,
    runtime: Runtime,
    brand_id: UUID,
    resume: int | None,
    teams: tuple[str, ...] | None = None,
) -> AsyncIterator[str]:
    """The stream's frames (the console's stream renders its rows on each of them); with
    ``teams``, only the rows of those teams' conversations."""
    views, clock = runtime.views, runtime.core.clock
    loop = asyncio.get_running_loop()
    cursor = resume
    shown: set[str] = set()  # for an agent: what its stream showed, to take off when it leaves
    if cursor is None:
        cursor = await runtime.call(lambda: views.position)
        items = await runtime.call(
            waiting, views.store, brand_id, now=clock(), teams=teams, limit=SNAPSHOT_LIMIT
        )
        shown.update(i.conversation_id for i in items)
        yield frame("queue.snapshot", cursor, items)
    last_sent = loop.time()
    while not await request.is_disconnected():
        position = await runtime.call(lambda: views.position)
        if position > cursor:
            # Rows written past ``position`` go in a later round, once it covers them.
            changed = await runtime.call(
                changes_since, views.store, brand_id, cursor, now=clock(), upto=position
            )
            cursor = position
            if teams is not None:
                changed = seen_by(teams, changed, shown)
            if changed:
                yield frame("queue.changed", cursor, changed)
                last_sent = loop.time()
        if loop.time() - last_sent >= HEARTBEAT_SECONDS:
            yield ": heartbeat\n\n"
            last_sent = loop.time()
        await asyncio.sleep(POLL_SECONDS)
