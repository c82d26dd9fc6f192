"""Webhook endpoints: where a brand's own systems are told what happened, signed.

Every route is the caller's brand's: another brand's endpoint id answers 404, as an
unknown one does. The secret is shown when it is made (create, rotate) and never again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AnyUrl, BaseModel, Field

from chainon.api.deps import BrandDep, RuntimeDep
from chainon.api.schemas import Strict
from chainon.domain.webhooks import Endpoint, EventType
from chainon.webhooks import endpoints, ssrf
from chainon.webhooks import outbox as ob
from chainon.webhooks.replay import replay as replay_events

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Url = Annotated[AnyUrl, Field(description="https; private addresses are refused.")]


class EndpointIn(Strict):
    url: Url
    events: list[EventType] = Field(min_length=1)
    description: Annotated[str, Field(max_length=500)] = ""


class EndpointPatch(Strict):
    url: Url | None = None
    events: list[EventType] | None = Field(None, min_length=1)
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str = Field(description="Why Chainon disabled it; empty otherwise.")
    created_at: datetime

    @classmethod
    def of(cls, e: Endpoint) -> EndpointOut:
        return cls(
            id=e.id,
            url=e.url,
            events=e.events,
            description=e.description,
            enabled=e.enabled,
            disabled_reason=e.disabled_reason,
            created_at=e.created_at,
        )


class EndpointCreated(EndpointOut):
    secret: str = Field(description="`whsec_…`: shown once, keep it to verify signatures.")


class Endpoints(BaseModel):
    endpoints: list[EndpointOut]


class Rotated(BaseModel):
    secret: str = Field(description="The new secret, shown once.")
    previous_secret_valid_until: datetime = Field(
        description="Until then deliveries carry a signature with each secret."
    )


class AttemptOut(BaseModel):
    webhook_id: str
    event_type: str
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str
    next_retry_at: datetime | None = Field(description="null: delivered, or given up.")


class Attempts(BaseModel):
    attempts: list[AttemptOut]


class ReplayIn(Strict):
    since: datetime


class Replayed(BaseModel):
    replayed: int = Field(description="Events owed again, under their first webhook ids.")
    since: datetime = Field(description="From when: `since`, or the endpoint's creation.")


@router.post("/endpoints", status_code=201)
async def create_endpoint(
    body: EndpointIn, brand: BrandDep, runtime: RuntimeDep
) -> EndpointCreated:
    allow = runtime.settings.webhooks_allow_private
    await ssrf.check_input(str(body.url), allow_private=allow)
    made = await runtime.call(
        endpoints.add,
        runtime.core,
        brand.id,
        str(body.url),
        list(body.events),
        body.description,
        allow_private=allow,
        box=runtime.secrets,
    )
    return EndpointCreated(**EndpointOut.of(made).model_dump(), secret=made.secret)


@router.get("/endpoints")
async def list_endpoints(brand: BrandDep, runtime: RuntimeDep) -> Endpoints:
    found = await runtime.call(endpoints.listed, runtime.core, brand.id)
    return Endpoints(endpoints=[EndpointOut.of(e) for e in found])


@router.get("/endpoints/{endpoint_id}")
async def get_endpoint(endpoint_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> EndpointOut:
    return EndpointOut.of(await runtime.call(endpoints.get, runtime.core, brand.id, endpoint_id))


@router.patch("/endpoints/{endpoint_id}")
async def update_endpoint(
    endpoint_id: UUID, body: EndpointPatch, brand: BrandDep, runtime: RuntimeDep
) -> EndpointOut:
    allow = runtime.settings.webhooks_allow_private
    await runtime.call(endpoints.get, runtime.core, brand.id, endpoint_id)  # 404 first
    if body.url is not None:
        await ssrf.check_input(str(body.url), allow_private=allow)
    changed = await runtime.call(
        lambda: endpoints.change(
            runtime.core,
            brand.id,
            endpoint_id,
            url=None if body.url is None else str(body.url),
            events=None if body.events is None else list(body.events),
            enabled=body.enabled,
            allow_private=allow,
        )
    )
    return EndpointOut.of(changed)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> Response:
    await runtime.call(endpoints.remove, runtime.core, brand.id, endpoint_id)
    return Response(status_code=204)


@router.post("/endpoints/{endpoint_id}/rotate")
async def rotate_secret(endpoint_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> Rotated:
    e = await runtime.call(
        lambda: endpoints.rotate(runtime.core, brand.id, endpoint_id, box=runtime.secrets)
    )
    assert e.previous_valid_until is not None
    return Rotated(secret=e.secret, previous_secret_valid_until=e.previous_valid_until)


@router.get("/endpoints/{endpoint_id}/attempts")
async def list_attempts(
    endpoint_id: UUID,
    brand: BrandDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Attempts:
    """The latest delivery attempts first: time, event, status code, duration, next retry."""
    await runtime.call(endpoints.get, runtime.core, brand.id, endpoint_id)
    hook = runtime.webhooks
    rows = await runtime.call(ob.attempts, hook.store, hook.outbox, endpoint_id, limit)
    return Attempts(
        attempts=[
            AttemptOut(
                webhook_id=r["delivery_id"],
                event_type=r["event_type"],
                at=r["at"],
                status_code=r["status_code"],
                duration_ms=r["duration_ms"],
                error=r["error"],
                next_retry_at=r["next_retry_at"],
            )
            for r in rows
        ]
    )


@router.post("/endpoints/{endpoint_id}/replay", status_code=202)
async def replay(
    endpoint_id: UUID, body: ReplayIn, brand: BrandDep, runtime: RuntimeDep
) -> Replayed:
    """Sends again, from the event log, every event of the brand that the endpoint's
    subscriptions ask for since ``since`` (7 days back at most, not before the endpoint
    was added), under the webhook ids a first delivery had."""
    endpoint = await runtime.call(endpoints.get, runtime.core, brand.id, endpoint_id)
    since = body.since if body.since.tzinfo else body.since.replace(tzinfo=UTC)
    hook = runtime.webhooks
    n, start = await runtime.call(
        replay_events, hook.views, hook.outbox, brand.id, endpoint, since, datetime.now(UTC)
    )
    return Replayed(replayed=n, since=start)
