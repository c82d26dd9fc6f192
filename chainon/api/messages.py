"""Sending: to an address (the conversation is found or opened) or as a reply.

A send may carry RCS rich content (suggestions, cards); where the message goes by SMS,
first or as the fallback of an RCS message that was not delivered in time, the content is
rendered as text with numbered choices.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, get_args
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import (
    AwareDatetime,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from chainon.api.answers import act
from chainon.api.auditing import audit
from chainon.api.deps import BrandDep, CallerDep, IdempotencyDep, RuntimeDep, request_id
from chainon.api.schemas import Accepted, Address, Body, ReplyIn, Strict
from chainon.audit import Action
from chainon.domain import commands as cmd
from chainon.domain.brand import MAX_FALLBACK_SECONDS, MIN_FALLBACK_SECONDS
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.errors import InvalidInput
from chainon.domain.rich_content import (
    CreateCalendarEvent,
    Dial,
    OpenUrl,
    RichContent,
    ShareLocation,
    SuggestedAction,
    SuggestedReply,
    ViewLocation,
)
from chainon.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["messages"])

# The ``kind`` of each member of rich content's tagged unions. pydantic names the member
# in an error's location (``suggestions.0.reply.text``); a client knows no such field.
_SUGGESTION_KINDS = frozenset(
    c.model_fields["kind"].default for c in (SuggestedReply, SuggestedAction)
)
_ACTION_KINDS = frozenset(
    c.model_fields["kind"].default
    for c in (OpenUrl, Dial, ViewLocation, ShareLocation, CreateCalendarEvent)
)
_BUILT_IN = frozenset(get_args(ErrorType))
# A rule that spans fields says which one is at fault first: "end_time: must be after…".
_NAMED = re.compile(r"([a-z_]+(?:\.[a-z0-9_]+)*): (.+)", re.DOTALL)


def _without_tags(location: Sequence[int | str]) -> tuple[int | str, ...]:
    kept: list[int | str] = []
    previous: int | str | None = None
    for part in location:
        suggestion_kind = isinstance(previous, int) and part in _SUGGESTION_KINDS
        action_kind = previous == "action" and kept[-1:] == ["action"] and part in _ACTION_KINDS
        if not (suggestion_kind or action_kind):
            kept.append(part)
        previous = part
    return tuple(kept)


def _at_fault(error: ErrorDetails) -> InitErrorDetails:
    location = _without_tags(error["loc"])
    context = dict(error.get("ctx", {}))
    named = (
        _NAMED.fullmatch(str(context.get("error", ""))) if error["type"] == "value_error" else None
    )
    if named is not None:
        location += tuple(int(p) if p.isdigit() else p for p in named[1].split("."))
        context["error"] = named[2]
    # An error type of our own (a PydanticCustomError) is not one pydantic can rebuild by
    # name: it is carried over with its message as written.
    kind: str | PydanticCustomError = (
        error["type"]
        if error["type"] in _BUILT_IN
        else PydanticCustomError(error["type"], error["msg"])
    )
    line: InitErrorDetails = {"type": kind, "loc": location, "input": error["input"]}
    if context and kind is error["type"]:
        line["ctx"] = context
    return line


def _rich_field_at_fault(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Rich content's errors located at the client's own field
    (``rich.suggestions[0].text``), so a problem's ``field`` points at it."""
    try:
        return handler(value)
    except ValidationError as exc:
        raise ValidationError.from_exception_data(
            exc.title, [_at_fault(error) for error in exc.errors()]
        ) from None


class SendIn(Strict):
    to: Annotated[Address, Field(examples=["+33612345678"])]
    body: Body | None = Field(
        None, description="Required unless rich content is given (its SMS text is then used)."
    )
    channel: Channel | None = Field(
        None, description="Force a channel; default: the brand's order."
    )
    rich: Annotated[RichContent | None, WrapValidator(_rich_field_at_fault)] = Field(
        None,
        description="RCS content: text, a card or a carousel, with suggestions. By SMS "
        "(first, or as the fallback) it is sent as text with numbered choices.",
    )
    fallback_after_seconds: int | None = Field(
        None,
        ge=MIN_FALLBACK_SECONDS,
        le=MAX_FALLBACK_SECONDS,
        description="RCS: how long to wait for DELIVERED before revoking the message and "
        "sending it by SMS; default: the brand's setting.",
    )
    purpose: Purpose = Field(
        Purpose.SERVICE,
        description="`service` (the default: transactional, a delivery notice), `marketing` "
        "(needs the contact's opt-in, kept to quiet hours) or `conversational` (an answer "
        "to a contact who wrote within the brand's reopen window).",
    )
    not_after: AwareDatetime | None = Field(
        None,
        description="Marketing held by the recipient's quiet hours is blocked "
        "(`quiet_hours_past_deadline`) rather than sent after this time.",
    )


class FallbackSettingsIn(Strict):
    fallback_after_seconds: int = Field(
        ge=MIN_FALLBACK_SECONDS,
        le=MAX_FALLBACK_SECONDS,
        description="How long an RCS message may wait for DELIVERED before it falls back "
        "to SMS (default 600).",
    )


@router.post("/messages", status_code=202, response_model=Accepted)
async def send_message(
    body: SendIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Queues a message to an address, on the channel the brand's order picks (or forced).

    The send policy answers first, in the same decision: `status` is `queued`, `deferred`
    (marketing in the recipient's quiet hours: `release_at`) or `blocked` (with its
    `reason`: no opt-in, an opt-out, …); a blocked send is an answer, not an error, and
    the message stays in the conversation's timeline.

    ``channel`` in the answer is where it went: RCS when the brand has an RCS sender and
    the number is not known to lack RCS, SMS otherwise. An RCS message falls back to SMS
    if the handset turns out not to take RCS, if it fails, or if it is not delivered within
    ``fallback_after_seconds`` (it is then revoked first, so nobody gets both)."""
    if body.body is None and body.rich is None:
        raise InvalidInput("required unless rich content is given", field="body")
    command = cmd.SendMessage(
        brand_id=brand.id,
        to=body.to,
        body=body.body,
        channel=body.channel,
        rich=body.rich,
        fallback_after_seconds=body.fallback_after_seconds,
        purpose=body.purpose,
        not_after=body.not_after,
        request_id=request_id(request),
    )
    done = await act(runtime, brand, idempotency, "send", command, response, queued=True)
    await _audit_send(request, runtime, brand.id, Action.MESSAGE_SENT, done)
    return done


@router.post("/conversations/{conversation_id}/messages", status_code=202)
async def reply(
    conversation_id: UUID,
    body: ReplyIn,
    caller: CallerDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Replies in a conversation, by default on the channel the contact last wrote from;
    an agent's key records the agent as the reply's author."""
    brand, agent = caller.brand, caller.principal.agent
    command = cmd.Reply(
        brand_id=brand.id,
        author=agent.name if agent is not None else None,
        conversation_id=conversation_id,
        body=body.body,
        channel=body.channel,
        purpose=body.purpose,
        request_id=request_id(request),
    )
    done = await act(runtime, brand, idempotency, "reply", command, response, queued=True)
    await _audit_send(request, runtime, brand.id, Action.REPLY_SENT, done)
    return done


async def _audit_send(
    request: Request, runtime: Runtime, brand_id: UUID, action: Action, done: Accepted
) -> None:
    detail = {"message_id": str(done.message_id), "status": done.status}
    subject = done.conversation_id or done.contact_id or ""
    await audit(request, runtime, brand_id, action, subject, detail)


@router.put("/fallback/settings", response_model=Accepted)
async def configure_fallback(
    body: FallbackSettingsIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    """Sets the brand's default RCS → SMS deadline; messages already sent keep theirs."""
    command = cmd.ConfigureFallback(brand_id=brand.id, after_seconds=body.fallback_after_seconds)
    return await act(runtime, brand, idempotency, "fallback-settings", command, response)
