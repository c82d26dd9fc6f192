"""The sandbox channel's controls: play the consumer, choose what happens to a send."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from adapters.channels.sandbox import SandboxOutcome
from chainon.api.deps import BrandDep, IdempotencyDep, RuntimeDep, request_id
from chainon.api.messages import accepted
from chainon.api.schemas import Accepted, SandboxInboundIn, SandboxOutcomeIn
from chainon.core import sender_key
from chainon.observability import MESSAGES
from domain import commands as cmd
from domain.addresses import parse_address
from domain.errors import InvalidInput

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


@router.post("/inbound", status_code=202)
async def inject_inbound(
    body: SandboxInboundIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Accepted:
    """A consumer writes to one of the brand's addresses, as through a real provider.

    Repeating a ``provider_message_id`` is what a provider's retry looks like: it is
    recorded once.
    """
    region = runtime.settings.default_region
    if sender_key(body.channel, body.to, region) not in brand.senders.get(body.channel, []):
        raise InvalidInput(
            f"{body.to} is not a {body.channel.value} address of this brand", field="to"
        )
    provider = runtime.provider
    command = cmd.ReceiveMessage(
        provider=provider.name,
        provider_message_id=body.provider_message_id or provider.new_inbound_id(),
        channel=body.channel,
        sender=body.sender,
        recipient=body.to,
        body=body.body,
        request_id=request_id(request),
    )
    outcome = await runtime.handle(command, idempotency.claim(brand, "sandbox-inbound", command))
    if outcome.refused:
        raise InvalidInput(outcome.refused, field="from")
    if outcome.changed and not outcome.duplicate:
        MESSAGES.labels(body.channel.value, "inbound", "received").inc()
    return accepted(outcome, response, status="received")


@router.put("/outcomes/{address}", status_code=204)
async def set_outcome(
    address: str, body: SandboxOutcomeIn, brand: BrandDep, runtime: RuntimeDep
) -> None:
    """What the sandbox does with messages to this address: deliver, fail or stay silent."""
    parsed = parse_address(address, default_region=runtime.settings.default_region)
    runtime.provider.outcomes[parsed.value] = SandboxOutcome(body.outcome)
