"""How the API answers a command it accepted, and the one way a route hands one to the core."""

from __future__ import annotations

from fastapi import Response

from chainon.api.deps import Idempotency
from chainon.api.schemas import Accepted
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.observability import MESSAGES
from chainon.runtime import Runtime


def accepted(outcome: cmd.Outcome, response: Response, *, status: str | None = None) -> Accepted:
    if outcome.duplicate:
        response.headers["Idempotent-Replayed"] = "true"
    return Accepted(
        conversation_id=outcome.conversation_id,
        contact_id=outcome.contact_id,
        message_id=outcome.message_id,
        channel=outcome.channel,
        status=status,
        reason=outcome.reason,
        release_at=outcome.release_at,
        segments=outcome.segments,
        segments_before_mention=outcome.segments_before_mention,
        changed=outcome.changed,
        duplicate=outcome.duplicate,
        position=outcome.position,
    )


async def act(
    runtime: Runtime,
    brand: Brand,
    idempotency: Idempotency,
    route: str,
    command: cmd.Command,
    response: Response,
    *,
    queued: bool = False,
) -> Accepted:
    """Hands the command to the core under the request's idempotency key; ``queued`` for
    a command that queues an outbound message (counted, and answered with what the send
    policy made of it: queued, deferred or blocked)."""
    outcome = await runtime.handle(command, idempotency.claim(brand, route, command))
    if not queued:
        return accepted(outcome, response)
    status = outcome.status.value if outcome.status is not None else "queued"
    if not outcome.duplicate and outcome.channel is not None:
        MESSAGES.labels(outcome.channel.value, "outbound", status).inc()
    return accepted(outcome, response, status=status)
