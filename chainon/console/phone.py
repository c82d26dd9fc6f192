"""The phone simulator: play a consumer's phone against the sandbox, in the browser.

What the consumer sends takes the sandbox's inbound path (``play_consumer``, the one the
``POST /v1/sandbox/inbound`` route runs); what the phone shows is what the brand sent
that reached the handset (sent, delivered or read): an RCS card with tappable chips, or
the SMS text with its numbered choices. It is there only while the sandbox carries the
messages: the embedded bus, no SMPP link, no RBM credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from chainon.api.deps import RuntimeDep, request_id
from chainon.api.sandbox import play_consumer
from chainon.api.schemas import MessageOut, SandboxInboundIn
from chainon.console.views import MessageView, fingerprint, message_view
from chainon.console.web import SECURITY_HEADERS, Agent, AgentDep, CheckedAgent, render
from chainon.domain.addresses import parse_address
from chainon.domain.channels import Channel
from chainon.domain.errors import DomainError, NotFound
from chainon.runtime import Runtime
from chainon.settings import BusKind

router = APIRouter(prefix="/sandbox/phone", include_in_schema=False)

ON_THE_HANDSET = frozenset({"sent", "delivered", "read"})
PHONE_CHANNELS = (Channel.RCS, Channel.SMS)

Number = Annotated[str, Query(max_length=340)]


def sandbox_on(runtime: Runtime) -> bool:
    settings = runtime.settings
    return (
        settings.bus is BusKind.EMBEDDED
        and not settings.smpp_links
        and settings.rbm_credentials_file is None
    )


@dataclass(frozen=True)
class BrandNumber:
    value: str  # "sms:+33939000001", what the form sends back
    channel: Channel
    address: str


def brand_numbers(agent: Agent) -> list[BrandNumber]:
    return [
        BrandNumber(f"{channel.value}:{address}", channel, address)
        for channel in PHONE_CHANNELS
        for address in agent.brand.senders.get(channel, [])
    ]


def _chosen(agent: Agent, value: str) -> BrandNumber | None:
    return next((n for n in brand_numbers(agent) if n.value == value), None)


def thread(runtime: Runtime, agent: Agent, consumer: str) -> list[MessageView]:
    """What the consumer's phone holds: their messages, and the brand's that reached it."""
    core = runtime.core
    try:
        address = parse_address(consumer, default_region=runtime.settings.default_region)
    except DomainError:
        return []
    contact = core.find_contact(agent.brand.id, address)
    if contact is None:
        return []
    shown = [
        MessageOut.of(m)
        for conversation in core.conversations_of(contact)
        for m in conversation.messages.values()
        if m.channel in PHONE_CHANNELS
        and (m.direction.value == "inbound" or m.status.value in ON_THE_HANDSET)
    ]
    return [message_view(m) for m in sorted(shown, key=lambda m: m.at)]


def _not_here() -> None:
    raise NotFound("the phone simulator needs the sandbox provider (the embedded default)")


def _off(request: Request, agent: Agent) -> Response:
    """The pages a person opens say it in their language; the polled thread answers 404."""
    return render(request, "phone_off.html", 404, lang=agent.lang, agent=agent, sandbox=False)


@router.get("")
async def phone_page(
    request: Request,
    agent: AgentDep,
    runtime: RuntimeDep,
    brand_number: Number = "",
    consumer: Number = "",
    error: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    if not sandbox_on(runtime):
        return _off(request, agent)
    chosen = _chosen(agent, brand_number)
    messages = await runtime.call(thread, runtime, agent, consumer) if chosen and consumer else []
    return render(
        request,
        "phone.html",
        lang=agent.lang,
        agent=agent,
        sandbox=True,
        numbers=brand_numbers(agent),
        chosen=chosen,
        consumer=consumer,
        messages=messages,
        seen=fingerprint(messages),
        error=error,
    )


@router.get("/thread")
async def phone_thread(
    request: Request,
    agent: AgentDep,
    runtime: RuntimeDep,
    brand_number: Number = "",
    consumer: Number = "",
    seen: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The phone's messages, polled; 204 while they are what it shows (``seen``)."""
    if not sandbox_on(runtime):
        _not_here()
    chosen = _chosen(agent, brand_number)
    messages = await runtime.call(thread, runtime, agent, consumer) if chosen and consumer else []
    now = fingerprint(messages)
    if seen == now:
        return Response(status_code=204, headers=SECURITY_HEADERS)
    return render(
        request,
        "phone_thread.html",
        seen=now,
        lang=agent.lang,
        agent=agent,
        messages=messages,
        chosen=chosen,
        consumer=consumer,
    )


@router.post("/send")
async def phone_send(
    request: Request,
    agent: CheckedAgent,
    runtime: RuntimeDep,
    brand_number: Annotated[str, Form(max_length=340)],
    consumer: Annotated[str, Form(min_length=1, max_length=320)],
    body: Annotated[str, Form(min_length=1, max_length=200_000)],
    postback_data: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    if not sandbox_on(runtime):
        return _off(request, agent)
    chosen = _chosen(agent, brand_number)
    query = {"brand_number": brand_number, "consumer": consumer}
    if chosen is None:
        query["error"] = "brand_number: not a number of this brand"
    else:
        try:
            inbound = SandboxInboundIn(
                sender=consumer,
                to=chosen.address,
                body=body,
                channel=chosen.channel,
                postback_data=postback_data or None,
            )
            await play_consumer(runtime, agent.brand, inbound, request_id(request))
        except DomainError as refused:
            query["error"] = f"{refused.field or 'body'}: {refused.detail}"
        except ValidationError as refused:
            line = refused.errors()[0]
            query["error"] = f"{'.'.join(str(p) for p in line['loc'])}: {line['msg']}"
    url = f"/sandbox/phone?{urlencode(query)}"
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
