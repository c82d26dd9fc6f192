"""The sandbox channel's controls: play the consumer, choose what happens to a send."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import Field

from chainon.adapters.channels.sandbox import SandboxOutcome
from chainon.api.answers import accepted
from chainon.api.deps import BrandDep, RuntimeDep, request_id
from chainon.api.schemas import Accepted, SandboxInboundIn, Strict
from chainon.domain import commands as cmd
from chainon.domain.addresses import parse_address
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput
from chainon.domain.routing import sender_address
from chainon.runtime import Runtime

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])
WAIT_SECONDS = 5.0


class SandboxOutcomeIn(Strict):
    outcome: SandboxOutcome = Field(
        description="deliver; fail; silent (never delivered: an RCS message then waits for "
        "its fallback deadline); not_capable (RCS only: the handset does not take RCS)."
    )
    channel: Channel | None = Field(
        None,
        description="Only messages on this channel (rcs: silent RCS, delivered SMS); "
        "default: every channel.",
    )


@router.post("/inbound", status_code=202)
async def inject_inbound(
    body: SandboxInboundIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> Accepted:
    """A consumer writes to one of the brand's addresses, as through a real provider.

    The message takes the provider's path: onto the inbound topic, then through the core
    worker. The answer waits (up to 5 s) for the core to record it. Repeating a
    ``provider_message_id`` is what a provider's retry looks like: it is recorded once.
    The id is the brand's own: another brand choosing the same one sends its own message.
    With ``postback_data``, the consumer tapped an RCS suggestion that carried it.
    """
    outcome = await play_consumer(runtime, brand, body, request_id(request))
    if outcome is None:
        return Accepted(status="accepted", changed=True)  # on the bus; not recorded yet
    return accepted(outcome, response, status="received")


async def play_consumer(
    runtime: Runtime, brand: Brand, body: SandboxInboundIn, request_id: str | None
) -> cmd.Outcome | None:
    """The sandbox's inbound path, for the API and the phone simulator alike: the
    recorded outcome, or None while it is on the bus and not recorded yet."""
    region = runtime.settings.default_region
    if sender_address(body.channel, body.to, region) not in brand.senders.get(body.channel, []):
        raise InvalidInput(
            f"{body.to} is not a {body.channel.value} address of this brand", field="to"
        )
    if body.postback_data is not None and body.channel is not Channel.RCS:
        raise InvalidInput("a suggestion is tapped on RCS only", field="postback_data")
    provider = runtime.provider
    message = cmd.ReceiveMessage(
        provider=provider.name,
        provider_message_id=body.provider_message_id or provider.new_inbound_id(),
        channel=body.channel,
        sender=body.sender,
        recipient=body.to,
        body=body.body,
        postback_data=body.postback_data,
        request_id=request_id,
        brand_id=brand.id,
    )
    core = runtime.core
    before = await runtime.call(
        core.inbound_outcome, message.provider, message.provider_message_id, brand.id
    )
    await runtime.publisher.inbound(message)
    outcome = before or await runtime.recorded(message, WAIT_SECONDS)
    if outcome is None:
        return None
    if outcome.refused:
        raise InvalidInput(outcome.refused, field="from")
    head = await runtime.call(core.recorder.max_notification_id)
    return outcome.model_copy(
        update={"duplicate": before is not None, "changed": before is None, "position": head}
    )


@router.put("/outcomes/{address}", status_code=204, response_class=Response)
async def set_outcome(
    address: str, body: SandboxOutcomeIn, brand: BrandDep, runtime: RuntimeDep
) -> None:
    """What the sandbox does with this brand's messages to this address: deliver, fail,
    stay silent, or (RCS) refuse because the handset does not take RCS. With ``channel``,
    only messages on that channel: an RCS message left silent then falls back to an SMS
    that is delivered. Another brand's messages to the address are not concerned.

    It applies to the sandbox of this process (the embedded mode's only one).
    """
    if body.outcome is SandboxOutcome.NOT_CAPABLE and body.channel not in (None, Channel.RCS):
        raise InvalidInput("not_capable concerns RCS only", field="channel")
    parsed = parse_address(address, default_region=runtime.settings.default_region)
    runtime.provider.set_outcome(parsed.value, body.outcome, body.channel, brand_id=brand.id)
