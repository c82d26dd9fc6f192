"""Sending: to an address (the conversation is found or opened) or as a reply."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from chainon.api.deps import BrandDep, Idempotency, IdempotencyDep, RuntimeDep, request_id
from chainon.api.schemas import Accepted, ReplyIn, SendIn
from chainon.observability import MESSAGES
from chainon.runtime import Runtime
from domain import commands as cmd
from domain.brand import Brand

router = APIRouter(prefix="/v1", tags=["messages"])


def accepted(outcome: cmd.Outcome, response: Response, *, status: str | None = None) -> Accepted:
    if outcome.duplicate:
        response.headers["Idempotent-Replayed"] = "true"
    return Accepted(
        conversation_id=outcome.conversation_id,
        contact_id=outcome.contact_id,
        message_id=outcome.message_id,
        channel=outcome.channel,
        status=status,
        changed=outcome.changed,
        duplicate=outcome.duplicate,
        position=outcome.position,
    )


async def queue(
    runtime: Runtime,
    brand: Brand,
    idempotency: Idempotency,
    route: str,
    command: cmd.Command,
    response: Response,
) -> Accepted:
    outcome = await runtime.handle(command, idempotency.claim(brand, route, command))
    if not outcome.duplicate and outcome.channel is not None:
        MESSAGES.labels(outcome.channel.value, "outbound", "queued").inc()
    return accepted(outcome, response, status="queued")


@router.post("/messages", status_code=202, response_model=Accepted)
async def send_message(
    body: SendIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Queues a message to an address, on the channel the brand's order picks (or forced)."""
    command = cmd.SendMessage(
        brand_id=brand.id,
        to=body.to,
        body=body.body,
        channel=body.channel,
        request_id=request_id(request),
    )
    return await queue(runtime, brand, idempotency, "send", command, response)


@router.post("/conversations/{conversation_id}/messages", status_code=202)
async def reply(
    conversation_id: UUID,
    body: ReplyIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Replies in a conversation, by default on the channel the contact last wrote from."""
    command = cmd.Reply(
        brand_id=brand.id,
        conversation_id=conversation_id,
        body=body.body,
        channel=body.channel,
        request_id=request_id(request),
    )
    return await queue(runtime, brand, idempotency, "reply", command, response)
