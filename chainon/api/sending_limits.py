"""A brand's sending limits (``domain.sending_limits``), read and set as one document, and
the number prefixes its pumping guard blocked, which only an admin lifts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from chainon.api.answers import accepted
from chainon.api.consent import api_key_id
from chainon.api.deps import BrandDep, RuntimeDep
from chainon.api.schemas import Accepted
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.brand import Brand
from chainon.domain.destination_blocks import DestinationBlocks
from chainon.domain.sending_limits import SendingLimits

router = APIRouter(prefix="/v1/sending", tags=["sending"])


class LimitsChangeOut(BaseModel):
    at: datetime
    by: str
    limits: dict[str, Any]


class LimitsOut(BaseModel):
    limits: SendingLimits = Field(description="The document as set (what `PUT` takes).")
    allowed_countries: list[str] = Field(
        description="In force: the document's list, or the brand's sender countries, FR, US."
    )
    history: list[LimitsChangeOut] = Field(description="Every change, oldest first.")


class BlockOut(BaseModel):
    prefix: str = Field(description="`+` and the number's first 7 digits.")
    reason: str
    sends: int = Field(description="Sends to the prefix in the 10 minutes that blocked it.")
    usual: float = Field(description="Its usual sends per 10 minutes then.")
    at: datetime


class LiftOut(BaseModel):
    prefix: str
    by: str
    at: datetime


class BlocksOut(BaseModel):
    blocks: list[BlockOut]
    lifted: list[LiftOut] = Field(description="Every lift, oldest first, with who lifted it.")


def limits_out(brand: Brand) -> LimitsOut:
    return LimitsOut(
        limits=brand.sending_limits,
        allowed_countries=sorted(brand.allowed_countries()),
        history=[
            LimitsChangeOut(at=c.at, by=c.by, limits=c.settings) for c in brand.limits_history
        ],
    )


def blocks_out(blocks: DestinationBlocks | None) -> BlocksOut:
    if blocks is None:
        return BlocksOut(blocks=[], lifted=[])
    return BlocksOut(
        blocks=[
            BlockOut(prefix=b.prefix, reason=b.reason, sends=b.sends, usual=b.usual, at=b.at)
            for b in sorted(blocks.blocked.values(), key=lambda b: b.at)
        ],
        lifted=[LiftOut(prefix=x.prefix, by=x.by, at=x.at) for x in blocks.lifts],
    )


@router.get("/limits", response_model=LimitsOut)
async def get_sending_limits(brand: BrandDep, runtime: RuntimeDep) -> LimitsOut:
    """The brand's sending limits, the countries in force, and every change."""
    fresh = await runtime.call(runtime.core.get, Brand, brand.id)
    return limits_out(fresh)


@router.put("/limits", response_model=Accepted)
async def put_sending_limits(
    body: SendingLimits,
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Sets the whole document (what it leaves out takes the default). `changed: false`
    when it is the one in force."""
    command = cmd.ConfigureSendingLimits(brand_id=brand.id, limits=body, actor=api_key_id(request))
    return accepted(await runtime.handle(command), response)


@router.get("/blocks", response_model=BlocksOut)
async def get_blocks(brand: BrandDep, runtime: RuntimeDep) -> BlocksOut:
    """The prefixes the pumping guard blocked after a spike, and the lifts so far."""
    found = await runtime.call(
        runtime.core.find, DestinationBlocks, ids.destination_blocks_id(brand.id)
    )
    return blocks_out(found)


@router.delete("/blocks/{prefix}", response_model=Accepted)
async def lift_block(
    prefix: Annotated[
        str, Path(min_length=2, max_length=16, description="A blocked prefix: `+3361234`.")
    ],
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Lets sends to the prefix go again (404 when it is not blocked); the lift is
    recorded with the key that asked."""
    command = cmd.LiftDestinationBlock(brand_id=brand.id, prefix=prefix, actor=api_key_id(request))
    return accepted(await runtime.handle(command), response)
