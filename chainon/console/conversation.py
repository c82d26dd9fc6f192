"""One conversation: its timeline, the contact's profile, what an agent does, the reply.

The reply box's counter is served from here, by the code that will segment the message
(``domain.message_body.prepare_body`` on the channel ``reply_channel`` picks): the count
the agent sees is the count the message goes with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from chainon.api.auditing import audit
from chainon.api.conversations import bot_facts, timeline_entries
from chainon.api.deps import RuntimeDep, request_id
from chainon.api.schemas import HandoffOut, MessageOut, TimelineEntry
from chainon.audit import Action
from chainon.console.views import MessageView, fingerprint, message_view
from chainon.console.web import SECURITY_HEADERS, Agent, AgentDep, CheckedAgent, render
from chainon.domain import commands as cmd
from chainon.domain.access import Scope
from chainon.domain.brand import Brand
from chainon.domain.channel_choice import reply_channel
from chainon.domain.channels import Channel
from chainon.domain.conversation import MAX_PRIORITY, Conversation
from chainon.domain.errors import DomainError, InvalidInput
from chainon.domain.message_body import prepare_body
from chainon.domain.sms_encoding import plan_segments, smart_encode_if_cheaper
from chainon.projections import crm_profile as crm
from chainon.runtime import Runtime

router = APIRouter(prefix="/console/conversations", include_in_schema=False)

Short = Annotated[str, Form(max_length=128)]


@dataclass(frozen=True)
class Count:
    """What the reply box shows under the text."""

    characters: int
    channel: Channel | None
    encoding: str | None
    segments: int
    replaced: tuple[str, ...]
    error: str | None


def count(brand: Brand, conversation: Conversation, channel: Channel | None, text: str) -> Count:
    if channel is None:
        return Count(len(text), None, None, 0, (), "no channel of the brand reaches this contact")
    error = None
    try:
        prepare_body(text, channel, smart_encoding=brand.smart_encoding)
    except InvalidInput as refused:
        error = None if not text.strip() else refused.detail
    if channel is not Channel.SMS:
        return Count(len(text), channel, None, 1 if text else 0, (), error)
    sent, replaced = smart_encode_if_cheaper(text) if brand.smart_encoding else (text, ())
    plan = plan_segments(sent)
    return Count(
        len(text), channel, plan.encoding.value, plan.count if text else 0, replaced, error
    )


@dataclass(frozen=True)
class Page:
    conversation: Conversation
    messages: list[MessageView]
    timeline: list[TimelineEntry]
    profile: crm.Profile | None
    channel: Channel | None
    handoff: HandoffOut | None = None  # what a bot collected before it handed over
    csat: int | None = None  # the latest rating a flow collected in this conversation


def _channel(runtime: Runtime, brand: Brand, conversation: Conversation) -> Channel | None:
    contact = runtime.core.contact_of(brand.id, conversation.contact_id)
    try:
        return reply_channel(brand, contact, conversation)
    except InvalidInput:
        return None


def load(runtime: Runtime, brand: Brand, conversation_id: UUID) -> Page:
    core = runtime.core
    conversation = core.conversation_of(brand.id, conversation_id)
    handoff, csat = bot_facts(core, conversation_id)
    messages = [
        message_view(
            MessageOut.of(m),
            m.hold.release_at if m.hold is not None else None,
            _chosen_text(conversation, m.id),
        )
        for m in conversation.messages.values()
    ]
    return Page(
        conversation=conversation,
        messages=messages,
        timeline=timeline_entries(core, conversation_id),
        profile=crm.profile(runtime.views.store, brand.id, conversation.contact_id),
        channel=_channel(runtime, brand, conversation),
        handoff=handoff,
        csat=csat,
    )


def _chosen_text(conversation: Conversation, message_id: UUID) -> str | None:
    chosen = conversation.choices.get(message_id)  # (postback data, the suggestion's text)
    return None if chosen is None else chosen[1]


async def _page(
    request: Request, runtime: Runtime, agent: Agent, conversation_id: UUID, **extra: object
) -> Response:
    page = await runtime.call(load, runtime, agent.brand, conversation_id)
    status = 422 if extra.get("error") else 200
    return render(
        request,
        "conversation.html",
        status,
        lang=agent.lang,
        agent=agent,
        page=page,
        max_priority=MAX_PRIORITY,
        counted=count(agent.brand, page.conversation, page.channel, str(extra.get("body", ""))),
        seen=fingerprint(page.messages),
        sandbox=_sandbox(runtime),
        **extra,
    )


def _sandbox(runtime: Runtime) -> bool:
    from chainon.console.phone import sandbox_on

    return sandbox_on(runtime)


@router.get("/{conversation_id}")
async def conversation_page(
    conversation_id: UUID, request: Request, agent: AgentDep, runtime: RuntimeDep
) -> Response:
    shown = await _page(request, runtime, agent, conversation_id)
    await _audit(request, runtime, agent, Action.CONVERSATION_READ, conversation_id)
    return shown


async def _audit(
    request: Request, runtime: Runtime, agent: Agent, action: Action, conversation_id: UUID
) -> None:
    """The agent is the actor (the page's polls for new messages are not new reads)."""
    actor = f"agent:{agent.name}"
    detail = {"key_id": agent.session.key_id}
    await audit(request, runtime, agent.brand.id, action, conversation_id, detail, actor=actor)


@router.get("/{conversation_id}/timeline")
async def timeline_fragment(
    conversation_id: UUID,
    request: Request,
    agent: AgentDep,
    runtime: RuntimeDep,
    seen: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The messages again, for the page to poll: receipts and new replies show up; 204
    while they are what the page shows (``seen``)."""
    page = await runtime.call(load, runtime, agent.brand, conversation_id)
    now = fingerprint(page.messages)
    if seen == now:
        return Response(status_code=204, headers=SECURITY_HEADERS)
    return render(request, "messages.html", lang=agent.lang, page=page, seen=now)


@router.post("/{conversation_id}/count")
async def reply_count(
    conversation_id: UUID,
    request: Request,
    agent: CheckedAgent,
    runtime: RuntimeDep,
    body: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    def counted() -> Count:
        conversation = runtime.core.conversation_of(agent.brand.id, conversation_id)
        return count(agent.brand, conversation, _channel(runtime, agent.brand, conversation), body)

    return render(request, "counter.html", lang=agent.lang, counted=await runtime.call(counted))


async def _act(
    request: Request,
    runtime: Runtime,
    agent: Agent,
    conversation_id: UUID,
    make: Callable[[], cmd.Command],
    body: str = "",
) -> Response:
    """Runs the command, when the signed-in key's scopes allow it (403 otherwise); a
    refusal is shown on the page, next to the form, as a 422."""
    try:
        command = make()
        needed = (
            Scope.MESSAGES_SEND if isinstance(command, cmd.Reply) else Scope.CONVERSATIONS_WRITE
        )
        if not agent.principal.may(needed):
            raise HTTPException(403, f"this API key lacks the scope {needed.value}")
        outcome = await runtime.handle(command)
    except (DomainError, ValidationError) as refused:
        detail = refused.detail if isinstance(refused, DomainError) else _first(refused)
        return await _page(request, runtime, agent, conversation_id, error=detail, body=body)
    if outcome.position is not None:
        await runtime.caught_up(outcome.position, 5.0)
    url = f"/console/conversations/{conversation_id}"
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _first(error: ValidationError) -> str:
    line = error.errors()[0]
    return f"{'.'.join(str(p) for p in line['loc'])}: {line['msg']}"


@router.post("/{conversation_id}/reply")
async def reply(
    conversation_id: UUID,
    request: Request,
    agent: CheckedAgent,
    runtime: RuntimeDep,
    body: Annotated[str, Form(max_length=200_000)],
) -> Response:
    def make() -> cmd.Command:
        return cmd.Reply(
            brand_id=agent.brand.id,
            conversation_id=conversation_id,
            body=body,
            author=agent.name,
            request_id=request_id(request),
        )

    done = await _act(request, runtime, agent, conversation_id, make, body)
    if done.status_code == 303:  # sent; a refusal came back as the page with its error
        await _audit(request, runtime, agent, Action.REPLY_SENT, conversation_id)
    return done


@router.post("/{conversation_id}/assign")
async def assign(
    conversation_id: UUID,
    request: Request,
    agent: CheckedAgent,
    runtime: RuntimeDep,
    assignee: Short = "",
    team: Short = "",
) -> Response:
    def make() -> cmd.Command:
        return cmd.AssignConversation(
            brand_id=agent.brand.id,
            conversation_id=conversation_id,
            agent=assignee.strip() or None,
            team=team.strip() or None,
        )

    return await _act(request, runtime, agent, conversation_id, make)


@router.post("/{conversation_id}/tags")
async def tag(
    conversation_id: UUID,
    request: Request,
    agent: CheckedAgent,
    runtime: RuntimeDep,
    add: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    def make() -> cmd.Command:
        return cmd.TagConversation(
            brand_id=agent.brand.id, conversation_id=conversation_id, add=[add], remove=[]
        )

    return await _act(request, runtime, agent, conversation_id, make)


@router.post("/{conversation_id}/priority")
async def prioritize(
    conversation_id: UUID,
    request: Request,
    agent: CheckedAgent,
    runtime: RuntimeDep,
    priority: Annotated[int, Form(ge=0, le=MAX_PRIORITY)],
) -> Response:
    def make() -> cmd.Command:
        return cmd.PrioritizeConversation(
            brand_id=agent.brand.id, conversation_id=conversation_id, priority=priority
        )

    return await _act(request, runtime, agent, conversation_id, make)


@router.post("/{conversation_id}/resolve")
async def resolve(
    conversation_id: UUID, request: Request, agent: CheckedAgent, runtime: RuntimeDep
) -> Response:
    def make() -> cmd.Command:
        return cmd.ResolveConversation(
            brand_id=agent.brand.id, conversation_id=conversation_id, by=agent.name
        )

    return await _act(request, runtime, agent, conversation_id, make)


@router.post("/{conversation_id}/reopen")
async def reopen(
    conversation_id: UUID, request: Request, agent: CheckedAgent, runtime: RuntimeDep
) -> Response:
    def make() -> cmd.Command:
        return cmd.ReopenConversation(
            brand_id=agent.brand.id,
            conversation_id=conversation_id,
            reason=f"reopened by {agent.name}",
        )

    return await _act(request, runtime, agent, conversation_id, make)
