"""A brand's routing rules (``domain.routing_rules``), read and set as one document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from chainon.api.answers import accepted
from chainon.api.consent import api_key_id
from chainon.api.deps import BrandDep, RuntimeDep
from chainon.api.schemas import Accepted
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.routing_rules import RoutingRules

router = APIRouter(prefix="/v1/routing", tags=["routing"])


class RoutingChangeOut(BaseModel):
    at: datetime
    by: str
    rules: dict[str, Any]


class RoutingOut(BaseModel):
    routing: RoutingRules = Field(description="The document as set (what `PUT` takes).")
    history: list[RoutingChangeOut] = Field(description="Every change, oldest first.")


def routing_out(brand: Brand) -> RoutingOut:
    return RoutingOut(
        routing=brand.routing_rules,
        history=[
            RoutingChangeOut(at=c.at, by=c.by, rules=c.settings) for c in brand.routing_history
        ],
    )


@router.get("", response_model=RoutingOut)
async def get_routing(brand: BrandDep, runtime: RuntimeDep) -> RoutingOut:
    """The brand's routing rules and every change, with who made it."""
    fresh = await runtime.call(runtime.core.get, Brand, brand.id)
    return routing_out(fresh)


@router.put("", response_model=Accepted)
async def put_routing(
    body: RoutingRules,
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Sets the whole document: the rules, read in order (the first that holds wins), and
    the `default` team. `changed: false` when it is the one in force."""
    command = cmd.ConfigureRouting(brand_id=brand.id, rules=body, actor=api_key_id(request))
    return accepted(await runtime.handle(command), response)
