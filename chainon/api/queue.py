"""The agent queue: what waits, taking the next conversation, the SLA.

Taking the next one is a ``ClaimConversation`` per candidate: the conversation's
optimistic concurrency makes two agents asking at once get different conversations, and a
refusal (someone was first) only moves on to the next candidate. The agent's capacity is
decided by the core on the agent's desk (``domain/agent_desk.py``), not here: two API
processes taking for one agent at once cannot both pass it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from chainon.api import queue_stream
from chainon.api.answers import accepted, act
from chainon.api.cursors import CursorParam, queue_cursor, queue_mark
from chainon.api.deps import BrandDep, CallerDep, IdempotencyDep, RuntimeDep, request_id
from chainon.api.queue_stream import QueueItemOut, item_out, teams_of
from chainon.api.schemas import Accepted, Strict
from chainon.domain import commands as cmd
from chainon.domain.brand import MAX_FIRST_RESPONSE_MINUTES, Brand
from chainon.domain.conversation import MAX_PRIORITY
from chainon.domain.errors import Conflict, NotFound, TransitionRefused
from chainon.domain.plain_text import PlainText
from chainon.projections.agent_queue import QueueItem, agents, waiting
from chainon.runtime import Runtime
from chainon.unit_of_work import ConcurrencyExhausted

router = APIRouter(prefix="/v1", tags=["queue"])
router.include_router(queue_stream.router)

MAX_WAIT_SECONDS = 5.0
CANDIDATES = 20  # read per round when taking the next conversation
MAX_TRIES = 200

Name = Annotated[PlainText, Field(min_length=1, max_length=128)]
MinPosition = Annotated[
    int | None, Query(ge=0, description="Wait (up to 5 s) until the answer includes this write.")
]


class QueuePage(BaseModel):
    items: list[QueueItemOut]
    next_cursor: str | None = Field(
        description="Pass it back as `cursor` for the next page; null on the last page."
    )
    position: int = Field(description="The write position this list reflects.")
    caught_up: bool | None = Field(
        None, description="With min_position: whether the list reached it before the wait ended."
    )


class NextIn(Strict):
    agent: Name
    team: Name | None = Field(None, description="Only conversations routed to this team.")


class ClaimedOut(BaseModel):
    conversation: QueueItemOut
    position: int | None = Field(description="The claim's write position.")


class QueueSettingsIn(Strict):
    first_response_minutes: int = Field(
        ge=1, le=MAX_FIRST_RESPONSE_MINUTES, description="The first-response SLA, in minutes."
    )


class PriorityIn(Strict):
    priority: int = Field(ge=0, le=MAX_PRIORITY, description="0 (normal) to 3 (urgent).")


async def caught_up(runtime: Runtime, position: int) -> bool:
    """Waits for the views to include ``position``, off the store's thread pool: waiters
    there could starve the feed that they are waiting for."""
    return await runtime.caught_up(position, MAX_WAIT_SECONDS)


async def read_position(runtime: Runtime, min_position: int | None) -> tuple[int, bool | None]:
    done = None if min_position is None else await caught_up(runtime, min_position)
    position = await runtime.call(lambda: runtime.views.position)
    return (max(position, min_position) if done and min_position else position), done


@router.get("/queue", response_model=QueuePage)
async def list_queue(
    caller: CallerDep,
    runtime: RuntimeDep,
    team: Annotated[PlainText | None, Query(max_length=128)] = None,
    agent: Annotated[PlainText | None, Query(max_length=128)] = None,
    breached: bool | None = None,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    min_position: MinPosition = None,
) -> QueuePage:
    """Waiting conversations: most urgent first, then the longest waiting; pass
    ``next_cursor`` back as ``cursor`` for the next page. An agent sees its teams' only."""
    after = queue_mark(cursor) if cursor else None
    position, done = await read_position(runtime, min_position)
    rows = await runtime.call(
        waiting,
        runtime.views.store,
        caller.brand.id,
        now=runtime.core.clock(),
        team=team,
        teams=teams_of(caller.principal),
        agent=agent,
        breached=breached,
        after=after,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    return QueuePage(
        items=[item_out(i) for i in page],
        next_cursor=queue_cursor(page[-1].mark) if more else None,
        position=position,
        caught_up=done,
    )


@router.post(
    "/queue/next",
    response_model=ClaimedOut,
    responses={404: {"description": "Nothing waiting"}, 409: {"description": "At capacity"}},
)
async def take_next(
    body: NextIn, caller: CallerDep, runtime: RuntimeDep, request: Request
) -> ClaimedOut:
    """Gives the agent the first unassigned waiting conversation, if under capacity. With
    an agent's key, ``agent`` is that agent (403 otherwise) and only its teams' count."""
    principal = caller.principal
    if principal.agent is not None and body.agent != principal.agent.name:
        raise HTTPException(403, f"an agent takes conversations for itself: {principal.actor}")
    taken, position = await claim_next(
        runtime, caller.brand, body.agent, body.team, request_id(request), teams_of(principal)
    )
    return ClaimedOut(conversation=item_out(taken), position=position)


async def claim_next(
    runtime: Runtime,
    brand: Brand,
    agent: str,
    team: str | None,
    request_id: str | None,
    teams: tuple[str, ...] | None = None,
) -> tuple[QueueItem, int | None]:
    """The claim behind "next for me", for the API and the console alike: the conversation
    taken and the claim's write position (the views have caught up with it). With
    ``teams``, only those teams' conversations are candidates."""
    store = runtime.views.store
    # A quick answer from the read model; the rule itself is decided with each claim.
    (load,) = await runtime.call(agents, store, brand.id, only=agent)
    if load.at_capacity:
        raise Conflict(f"agent at capacity ({load.open}/{load.capacity})", field="agent")
    tried: set[str] = set()
    while len(tried) < MAX_TRIES:
        candidates = await runtime.call(
            waiting,
            store,
            brand.id,
            now=runtime.core.clock(),
            team=team,
            teams=teams,
            unassigned=True,
            limit=len(tried) + CANDIDATES,
        )
        fresh = [c for c in candidates if c.conversation_id not in tried]
        if not fresh:
            raise NotFound("nothing waiting" + (f" for team {team}" if team else ""))
        for candidate in fresh:
            tried.add(candidate.conversation_id)
            command = cmd.ClaimConversation(
                brand_id=brand.id,
                conversation_id=UUID(candidate.conversation_id),
                agent=agent,
                within_capacity=True,
                request_id=request_id,
            )
            try:
                outcome = await runtime.handle(command)
            except (TransitionRefused, ConcurrencyExhausted):
                continue  # another agent was first: the next one
            if outcome.position is not None:
                await caught_up(runtime, outcome.position)
            return replace(candidate, agent=agent), outcome.position
    raise ConcurrencyExhausted("the queue is moving too fast; try again")


@router.put("/queue/settings", response_model=Accepted)
async def configure_queue(
    body: QueueSettingsIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    """Sets the first-response SLA; the due time of every waiting conversation follows."""
    command = cmd.ConfigureQueue(
        brand_id=brand.id, first_response_minutes=body.first_response_minutes
    )
    return await act(runtime, brand, idempotency, "queue-settings", command, response)


@router.post("/conversations/{conversation_id}/priority", response_model=Accepted)
async def prioritize(
    conversation_id: UUID,
    body: PriorityIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    command = cmd.PrioritizeConversation(
        brand_id=brand.id, conversation_id=conversation_id, priority=body.priority
    )
    outcome = await runtime.handle(command, idempotency.claim(brand, "prioritize", command))
    return accepted(outcome, response)
