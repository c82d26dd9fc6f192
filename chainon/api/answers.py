"""How the API answers a command it accepted, and the one way a route hands one to the core."""

from __future__ import annotations

from decimal import Decimal

from fastapi import Response

from chainon.api.deps import Idempotency
from chainon.api.schemas import Accepted
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.message_status import MessageStatus
from chainon.observability import MESSAGES
from chainon.projections.analytics import CURRENCY, billable_units, unit_price
from chainon.runtime import Runtime


def accepted(outcome: cmd.Outcome, response: Response, *, status: str | None = None) -> Accepted:
    if outcome.duplicate:
        response.headers["Idempotent-Replayed"] = "true"
    cost = price_of(outcome, outcome.segments)
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
        cost=cost,
        cost_before_mention=price_of(outcome, outcome.segments_before_mention),
        currency=CURRENCY if cost is not None else None,
        changed=outcome.changed,
        duplicate=outcome.duplicate,
        position=outcome.position,
    )


def price_of(outcome: cmd.Outcome, segments: int | None) -> Decimal | None:
    """A send's price at the analytics' prices (``projections.analytics``), so that the
    answer, the campaign stats and the analytics agree; None for a send that never goes."""
    if segments is None or outcome.channel is None or outcome.country is None:
        return None
    if outcome.status is MessageStatus.BLOCKED:
        return None
    channel = outcome.channel.value
    price = unit_price(channel, outcome.country)
    return None if price is None else price * billable_units(channel, segments)


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
