"""Sign-in, sign-out, the language, and the queue with its live stream."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Header, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from chainon.api import queue_stream as api_stream
from chainon.api.deps import RuntimeDep, request_id
from chainon.api.queue import claim_next
from chainon.auth import hash_api_key, split_api_key
from chainon.console import i18n
from chainon.console.session import COOKIE, PRE_COOKIE, encode, new_session, same_token
from chainon.console.web import (
    LANG_COOKIE,
    SECURITY_HEADERS,
    Agent,
    AgentDep,
    CheckedAgent,
    pre_session_token,
    render,
    secret_of,
    templates,
)
from chainon.domain.access import Scope
from chainon.domain.errors import Conflict, NotFound
from chainon.projections import crm_profile as crm
from chainon.projections.agent_queue import agents, waiting
from chainon.runtime import Runtime

router = APIRouter(prefix="/console", include_in_schema=False)

LIMIT = 200

Team = Annotated[str | None, Query(max_length=128)]


@dataclass(frozen=True)
class Row:
    id: str
    contact: str
    priority: int
    age_seconds: int
    sla_due_at: datetime | None
    breached: bool
    team: str | None
    agent: str | None
    last_direction: str | None
    possible_opt_out: str | None


def queue_rows(
    runtime: Runtime,
    brand_id: UUID,
    team: str | None,
    agent: str | None,
    teams: tuple[str, ...] | None = None,
) -> list[Row]:
    """The waiting list as the console shows it (an agent's: its teams' only), each row
    with its contact's name or first address (read from the CRM profile)."""
    store = runtime.views.store
    now = runtime.core.clock()
    items = waiting(store, brand_id, now=now, team=team, teams=teams, agent=agent, limit=LIMIT)
    rows = []
    for item in items:
        found = crm.profile(store, brand_id, UUID(item.contact_id))
        label = item.contact_id[:8]
        if found is not None:
            label = found.name or (found.addresses[0]["value"] if found.addresses else label)
        rows.append(
            Row(
                id=item.conversation_id,
                contact=label,
                priority=item.priority,
                age_seconds=item.age_seconds,
                sla_due_at=item.sla_due_at,
                breached=item.breached,
                team=item.team,
                agent=item.agent,
                last_direction=item.last_direction,
                possible_opt_out=item.possible_opt_out,
            )
        )
    return rows


def _cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


@router.get("/sign-in")
async def sign_in_page(request: Request, error: str | None = None) -> Response:
    token = pre_session_token(request)
    response = render(request, "sign_in.html", csrf=token, error=None)
    _cookie(response, PRE_COOKIE, token, max_age=3600)
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    runtime: RuntimeDep,
    api_key: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
    agent: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """An agent's key signs its agent in (its name, role and teams are the key's); a
    brand's key signs in whoever gives their name, as the brand's admin."""
    expected = request.cookies.get(PRE_COOKIE)
    if expected is None or not same_token(csrf, expected):
        return render(request, "sign_in.html", 403, csrf=pre_session_token(request), error="csrf")
    key = api_key.strip()
    brand = await runtime.call(runtime.core.api_keys.authenticate, key)
    key_id = split_api_key(key)
    name = agent.strip()
    if brand is not None and key_id is not None:
        principal = brand.principal_of(key_id)
        if principal.agent is not None:
            name = principal.agent.name
        elif not principal.may(Scope.CONVERSATIONS_READ):
            brand = None  # a key that may not read conversations opens no console
    if brand is None or key_id is None or not name:
        field = "agent" if brand is not None else "api_key"
        return render(request, "sign_in.html", 401, csrf=expected, error=field, agent_name=name)
    session = new_session(
        brand.id, name, key_id, hash_api_key(key), runtime.settings.console_session_seconds
    )
    signed_in = RedirectResponse("/console", status_code=303, headers=SECURITY_HEADERS)
    _cookie(signed_in, COOKIE, encode(secret_of(runtime), session))
    signed_in.delete_cookie(PRE_COOKIE, path="/")
    return signed_in


@router.post("/sign-out")
async def sign_out(agent: CheckedAgent) -> Response:
    response = RedirectResponse("/console/sign-in", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/lang/{lang}")
async def choose_language(lang: str, request: Request) -> Response:
    back = request.headers.get("referer", "")
    target = back if back.startswith(str(request.base_url)) else "/console"
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    if lang in i18n.LANGUAGES:
        _cookie(response, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response


def _filters(agent_name: str, team: str | None, mine: bool) -> tuple[str | None, str | None]:
    return (team or None), (agent_name if mine else None)


@router.get("")
async def queue_page(
    request: Request,
    agent: AgentDep,
    runtime: RuntimeDep,
    team: Team = None,
    mine: bool = False,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    team, only = _filters(agent.name, team, mine)
    rows = await runtime.call(queue_rows, runtime, agent.brand.id, team, only, agent.teams)
    (load,) = await runtime.call(agents, runtime.views.store, agent.brand.id, only=agent.name)
    return render(
        request,
        "queue.html",
        lang=agent.lang,
        agent=agent,
        rows=rows,
        team=team or "",
        mine=mine,
        load=load,
        notice=notice if notice in NOTICES else None,
        sandbox=sandbox_on(runtime),
    )


def sandbox_on(runtime: Runtime) -> bool:
    from chainon.console.phone import sandbox_on as on

    return on(runtime)


@router.get("/queue/stream")
async def queue_stream(
    request: Request,
    agent: AgentDep,
    runtime: RuntimeDep,
    team: Team = None,
    mine: bool = False,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """``/v1/queue/stream`` with the cookie session, as HTML: on each of its events
    (the snapshot, then every change), the rows of the agent's view are rendered again
    for the htmx SSE extension to swap in. Event ids are the API stream's positions, so
    a reconnect with ``Last-Event-ID`` resumes from where it left off."""
    team, only = _filters(agent.name, team, mine)
    frames = api_stream.events(
        request, runtime, agent.brand.id, api_stream.resume_from(last_event_id), agent.teams
    )
    return StreamingResponse(
        _rows(frames, runtime, agent, team, only),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _frame(event: str, position: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {event}\nid: {position}\n{data}\n\n"


async def _rows(
    frames: AsyncIterator[str], runtime: Runtime, agent: Agent, team: str | None, only: str | None
) -> AsyncIterator[str]:
    template = templates.get_template("queue_rows.html")
    async for frame in frames:
        if not frame.startswith("event:"):
            yield frame  # a heartbeat
            continue
        position = next(line[4:] for line in frame.splitlines() if line.startswith("id: "))
        rows = await runtime.call(queue_rows, runtime, agent.brand.id, team, only, agent.teams)
        yield _frame("queue", position, template.render(t=i18n.STRINGS[agent.lang], rows=rows))


@router.post("/next")
async def next_for_me(
    request: Request, agent: CheckedAgent, runtime: RuntimeDep, team: Team = None
) -> Response:
    """The API's atomic claim (``POST /v1/queue/next``): each candidate is a
    ``ClaimConversation`` whose concurrency check lets one agent win it."""
    if not agent.principal.may(Scope.CONVERSATIONS_WRITE):
        raise HTTPException(403, "this API key lacks the scope conversations:write")
    try:
        taken, _ = await claim_next(
            runtime, agent.brand, agent.name, team or None, request_id(request), agent.teams
        )
    except NotFound:
        return _back(request, "nothing")
    except Conflict:  # at capacity: said on the queue page
        return _back(request, "capacity")
    return _go(request, f"/console/conversations/{taken.conversation_id}")


def _go(request: Request, url: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={**SECURITY_HEADERS, "HX-Redirect": url})
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


NOTICES = frozenset({"nothing", "capacity"})


def _back(request: Request, notice: str) -> Response:
    marker = secrets.token_hex(2)  # a new address: the page is fetched again
    return _go(request, f"/console?notice={notice}&n={marker}")
