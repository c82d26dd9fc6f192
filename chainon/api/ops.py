"""Operations: liveness, readiness (the store answers), Prometheus metrics (with
``chainon serve``'s children's, when it runs a process tree)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chainon.api.deps import RuntimeDep
from chainon.observability import REGISTRY

if TYPE_CHECKING:
    from chainon.process_tree import ProcessTree

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "The store does not answer: `detail` says why",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    try:
        head = await runtime.call(runtime.core.recorder.max_notification_id)
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    return JSONResponse(
        {"status": "ready", "store": runtime.settings.store.value, "head": head or 0}
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "Prometheus' text exposition format"}},
)
async def metrics(request: Request) -> Response:
    tree: ProcessTree | None = getattr(request.app.state, "process_tree", None)
    text = await tree.metrics() if tree is not None else generate_latest(REGISTRY)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
