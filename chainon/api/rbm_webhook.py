"""RBM's webhook: consumers' RCS messages and delivery receipts, posted by Google.

RBM redelivers any notification not answered 200, for days, so the answer is 200 only
once the record is on the inbound bus, and anything that is not RBM's (a bad signature) or
not a notification is refused with nothing recorded.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import PlainTextResponse

from chainon.adapters.channels.rcs.webhook import SIGNATURE_HEADER, MalformedWebhook, WebhookRefused
from chainon.api.deps import RuntimeDep, request_id
from chainon.api.problems import PROBLEM_JSON, problem

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_PROBLEM: dict[str, Any] = {"content": {PROBLEM_JSON: {}}}


@router.post(
    "/rbm",
    response_class=PlainTextResponse,
    responses={
        200: {"description": "On the bus (or ignored: IS_TYPING); a registration's secret"},
        400: {**_PROBLEM, "description": "Not an RBM notification; `field` names the part"},
        401: {
            **_PROBLEM,
            "description": "Missing or forged X-Goog-Signature, or another agent's client token",
        },
        404: {**_PROBLEM, "description": "RBM is not configured (CHAINON_RBM_CLIENT_TOKEN)"},
    },
)
async def rbm_notification(
    request: Request,
    runtime: RuntimeDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> Response:
    """Takes one RBM notification (a Pub/Sub push, signed with the client token).

    The registration check (``clientToken`` and ``secret``) is answered with the secret. A
    user message becomes an inbound RCS message, a DELIVERED or READ event the receipt of
    the message it names; each is on the inbound bus before the 200. A redelivery is
    recorded once (the core dedupes on RBM's ids)."""
    webhook = runtime.rbm_webhook
    if webhook is None:
        return problem(404, "Not found", "RBM webhooks are off: CHAINON_RBM_CLIENT_TOKEN is unset")
    body = await request.body()
    try:
        handled = await webhook.handle(body, signature, request_id=request_id(request))
    except WebhookRefused as refused:
        return problem(401, "Unauthorized", str(refused))
    except MalformedWebhook as malformed:
        return problem(400, "Bad request", str(malformed), field=malformed.field)
    return PlainTextResponse(handled.secret or "")
