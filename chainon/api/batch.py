"""Many sends in one request, decided as one unit of work and saved in one transaction.

An integrator's bulk send (and a campaign's batch) costs the store one group commit, not
a transaction per message. Each item is validated and decided on its own: a bad item is
answered with its own problem, in its place, and never fails its neighbours. One
``Idempotency-Key`` covers the batch: each item's answer is stored under the key and the
item's index, with the fingerprint of the whole batch, so a retry of the same batch
replays every answer and the same key on another batch is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError

from chainon.api.answers import accepted
from chainon.api.deps import BrandDep, IdempotencyDep, RuntimeDep, request_id
from chainon.api.messages import SendIn
from chainon.api.problems import _STATUS, field_of
from chainon.api.schemas import Accepted, Strict
from chainon.domain import commands as cmd
from chainon.domain.errors import DomainError, InvalidInput
from chainon.messagebus import IdempotencyClaim
from chainon.observability import MESSAGES

router = APIRouter(prefix="/v1", tags=["messages"])

MAX_BATCH = 1000


class BatchIn(Strict):
    messages: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"Up to {MAX_BATCH} sends, each as the body of `POST /v1/messages`.",
    )


class ItemProblem(BaseModel):
    """An item's problem, as RFC 9457 problem details, naming the item's field at fault
    (``messages[3].to``)."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None


class BatchItem(BaseModel):
    index: int = Field(description="The item's place in `messages`, from 0.")
    ok: bool
    result: Accepted | None = Field(None, description="What the send did, when it was valid.")
    problem: ItemProblem | None = Field(None, description="Why the item was refused.")


class BatchOut(BaseModel):
    results: list[BatchItem] = Field(description="One per item, in the order given.")
    accepted: int
    refused: int


def _problem(index: int, status: int, title: str, errors: list[dict[str, str]]) -> ItemProblem:
    first = errors[0]
    return ItemProblem(
        type=f"https://chainon.dev/problems/{title.lower().replace(' ', '-')}",
        title=title,
        status=status,
        detail=f"{first['field']}: {first['message']}",
        field=first["field"],
        errors=errors,
    )


def invalid_item(index: int, exc: ValidationError) -> ItemProblem:
    prefix = f"messages[{index}]"
    errors = []
    for error in exc.errors():
        inner = field_of(tuple(error["loc"]))
        errors.append({"field": f"{prefix}.{inner}" if inner else prefix, "message": error["msg"]})
    return _problem(index, 422, "Invalid input", errors)


def refused_item(index: int, exc: Exception) -> ItemProblem:
    status, title = 500, "Internal error"
    if isinstance(exc, DomainError):
        status, title = 400, "Bad request"
        for cls, code, name in _STATUS:
            if isinstance(exc, cls):
                status, title = code, name
                break
        detail = exc.detail
        inner = exc.field
    else:
        detail, inner = "the item could not be decided", None
    field = f"messages[{index}]" + (f".{inner}" if inner else "")
    return _problem(index, status, title, [{"field": field, "message": detail}])


def command_of(body: SendIn, brand_id: Any, request_id: str | None) -> cmd.SendMessage:
    if body.body is None and body.rich is None:
        raise InvalidInput("required unless rich content is given", field="body")
    return cmd.SendMessage(
        brand_id=brand_id,
        to=body.to,
        body=body.body,
        channel=body.channel,
        rich=body.rich,
        fallback_after_seconds=body.fallback_after_seconds,
        purpose=body.purpose,
        not_after=body.not_after,
        request_id=request_id,
    )


@router.post("/messages/batch", status_code=200, response_model=BatchOut)
async def send_batch(
    body: BatchIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> BatchOut:
    """Queues up to 1,000 messages in one group commit; one result per item, in order.

    Each item is the body of `POST /v1/messages` and is validated on its own: an invalid
    item gets its `problem` (naming `messages[i].field`) and the others go. Each valid
    item's `result` is what `POST /v1/messages` answers (`queued`, `deferred` or
    `blocked` with its reason). With an `Idempotency-Key`, a retry of the same batch
    replays every answer; the same key with another batch is refused (422)."""
    fingerprint = hashlib.sha256(
        json.dumps(body.messages, sort_keys=True, default=str).encode()
    ).hexdigest()
    rid = request_id(request)
    items: list[BatchItem | None] = [None] * len(body.messages)
    batch: list[tuple[cmd.Command, IdempotencyClaim | None]] = []
    places: list[int] = []
    for index, raw in enumerate(body.messages):
        try:
            command = command_of(SendIn.model_validate(raw), brand.id, rid)
        except ValidationError as exc:
            items[index] = BatchItem(index=index, ok=False, problem=invalid_item(index, exc))
            continue
        except DomainError as exc:
            items[index] = BatchItem(index=index, ok=False, problem=refused_item(index, exc))
            continue
        claim = None
        if idempotency.key is not None:
            claim = IdempotencyClaim(brand.id, f"{idempotency.key}#batch:{index}", fingerprint)
        batch.append((command, claim))
        places.append(index)
    outcomes = await runtime.call(runtime.core.handle_many, batch) if batch else []
    replayed = False
    counted: Counter[tuple[str, str]] = Counter()  # the metric's labels, each looked up once
    unused = Response()  # each item's replay is said once, for the batch, below
    for index, outcome in zip(places, outcomes, strict=True):
        if isinstance(outcome, Exception):
            if isinstance(outcome, InvalidInput) and outcome.field == "Idempotency-Key":
                raise outcome  # the key names another batch: the request as a whole
            items[index] = BatchItem(index=index, ok=False, problem=refused_item(index, outcome))
            continue
        status = outcome.status.value if outcome.status is not None else "queued"
        replayed = replayed or outcome.duplicate
        if not outcome.duplicate and outcome.channel is not None:
            counted[outcome.channel.value, status] += 1
        items[index] = BatchItem(
            index=index, ok=True, result=accepted(outcome, unused, status=status)
        )
    for (channel, status), sends in counted.items():
        MESSAGES.labels(channel, "outbound", status).inc(sends)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    results = [item for item in items if item is not None]
    ok = sum(1 for item in results if item.ok)
    return BatchOut(results=results, accepted=ok, refused=len(results) - ok)
