"""Bot flows: publish a version (YAML body), list them, read one.

A refused flow answers 422 naming the line and the field of each fault, as
``chainon flows validate`` prints them, so the same file is fixed the same way whichever
way it was published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from chainon import flows
from chainon.api.deps import BrandDep, RuntimeDep
from chainon.api.problems import problem, problem_response
from chainon.domain.flow_library import PublishedFlow
from chainon.flow_documents import FlowRefused

router = APIRouter(prefix="/v1/flows", tags=["flows"])

YAML_TYPES = ("application/yaml", "text/yaml")
FlowName = Annotated[str, Path(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]


class FlowVersionOut(BaseModel):
    name: str
    version: int
    hash: str = Field(description="sha256 of the canonical document (defaults spelt out).")
    published_at: datetime

    @classmethod
    def of(cls, published: PublishedFlow) -> FlowVersionOut:
        return cls(
            name=published.name,
            version=published.version,
            hash=published.sha256,
            published_at=published.published_at,
        )


class FlowOut(FlowVersionOut):
    document: dict[str, Any] = Field(description="The canonical document, as JSON.")

    @classmethod
    def of(cls, published: PublishedFlow) -> FlowOut:
        return cls(**FlowVersionOut.of(published).model_dump(), document=published.document)


class Flows(BaseModel):
    flows: list[FlowVersionOut]


@router.put(
    "/{name}",
    response_model=FlowVersionOut,
    responses={
        200: {"description": "The same document is already the latest version."},
        201: {"model": FlowVersionOut, "description": "A new version was published."},
        415: problem_response("The body is not sent as YAML (`Content-Type`)."),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
        }
    },
)
async def publish_flow(
    name: FlowName, brand: BrandDep, runtime: RuntimeDep, request: Request, response: Response
) -> FlowVersionOut | JSONResponse:
    """Publishes the flow of the YAML body (`Content-Type: application/yaml` or
    `text/yaml`) as its next version; the document's `name` must be the path's. The
    same document again makes no new version (200)."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in YAML_TYPES:
        return problem(
            415,
            "Unsupported media type",
            f"a flow is sent as YAML, Content-Type: application/yaml (given: {media or 'none'})",
        )
    try:
        source = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return problem(422, "Invalid input", "the flow is not UTF-8 text")
    try:
        published, new = await runtime.call(
            flows.publish, runtime.core, brand.id, source, name=name
        )
    except FlowRefused as exc:
        return problem(
            422,
            "Invalid input",
            exc.detail,
            field=exc.field,
            errors=[{"field": r.field, "message": r.message, "line": r.line} for r in exc.refusals],
        )
    response.status_code = 201 if new else 200
    return FlowVersionOut.of(published)


@router.get("")
async def list_flows(brand: BrandDep, runtime: RuntimeDep) -> Flows:
    """Each flow's latest version."""
    found = await runtime.call(flows.listed, runtime.core, brand.id)
    return Flows(flows=[FlowVersionOut.of(f) for f in found])


@router.get("/{name}")
async def get_flow(
    name: FlowName,
    brand: BrandDep,
    runtime: RuntimeDep,
    version: Annotated[int | None, Query(ge=1, description="An older version.")] = None,
) -> FlowOut:
    """The latest version's document, or version `version`'s."""
    return FlowOut.of(await runtime.call(flows.get, runtime.core, brand.id, name, version))
