"""The unsubscribe link of a marketing email (RFC 2369 ``List-Unsubscribe``, RFC 8058
one-click): no API key, the signed token is the credential.

A mail client's one-click is a ``POST`` with the body ``List-Unsubscribe=One-Click``, and
it revokes. A ``GET`` never does: link scanners and mail filters open every link in an
email, so a ``GET`` only answers a page whose button makes that ``POST``.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from chainon.adapters.channels.email.unsubscribe import ONE_CLICK, Unsubscribe
from chainon.api.deps import RuntimeDep, request_id
from chainon.api.problems import PROBLEM_JSON, problem
from chainon.domain import commands as cmd
from chainon.domain.consent import MAX_EVIDENCE_TEXT

router = APIRouter(prefix="/v1/unsubscribe", tags=["consent"])

_PROBLEM: dict[str, Any] = {"content": {PROBLEM_JSON: {}}}
_MULTIPART_ONE_CLICK = re.compile(
    rb'name="?List-Unsubscribe"?[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\nOne-Click\r?\n'
)
_PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width">'
    "<title>{title}</title></head>\n"
    '<body style="font-family:sans-serif;max-width:32em;margin:3em auto">\n{body}\n'
    "</body></html>\n"
)
_FORM = (
    "<p>Stop receiving marketing messages at {address}?</p>\n"
    '<form method="post">'  # no action: to this very URL, whatever proxy prefixes it
    '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">Unsubscribe</button></form>'
)


class Unsubscribed(BaseModel):
    unsubscribed: bool = True
    changed: bool = Field(description="false: this link had been used already, nothing new.")
    purpose: str


def _forged() -> Response:
    return problem(
        404,
        "Not found",
        "this unsubscribe link was not issued by this deployment (its token's signature does"
        " not hold)",
        field="token",
    )


def _read(runtime: RuntimeDep, token: str) -> Unsubscribe | None:
    links = runtime.unsubscribe_links
    return None if links is None else links.read(token)


def _one_click(body: bytes, content_type: str) -> bool:
    if content_type.startswith("multipart/form-data"):
        return _MULTIPART_ONE_CLICK.search(body) is not None
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return fields.get("List-Unsubscribe") == ["One-Click"]


def _evidence(request: Request, body: bytes) -> str:
    """The request as it came: line, the headers that tell who sent it, and the body."""
    lines = [f"{request.method} {request.url.path}"]
    for name in ("content-type", "user-agent", "x-forwarded-for"):
        if name in request.headers:
            lines.append(f"{name}: {request.headers[name]}")
    if request.client is not None:
        lines.append(f"peer: {request.client.host}")
    text = "\n".join(lines) + "\n\n" + body.decode("utf-8", errors="backslashreplace")
    return text[:MAX_EVIDENCE_TEXT]


@router.post(
    "/{token}",
    response_model=Unsubscribed,
    responses={
        200: {"content": {"text/html": {}}, "description": "Unsubscribed (HTML to a browser)"},
        400: {**_PROBLEM, "description": "The body is not `List-Unsubscribe=One-Click`"},
        404: {**_PROBLEM, "description": "A forged or altered token (`field`: `token`)"},
    },
)
async def unsubscribe(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """RFC 8058 one-click: revokes the purpose the token names (marketing) for its brand
    and address on every channel, with source `unsubscribe_link` and the request as the
    evidence. A second POST answers the same and records nothing."""
    link = _read(runtime, token)
    if link is None:
        return _forged()
    body = await request.body()
    if not _one_click(body, request.headers.get("content-type", "")):
        return problem(
            400,
            "Bad request",
            f"the body must be {ONE_CLICK}, form-encoded (RFC 8058)",
            field="List-Unsubscribe",
        )
    command = cmd.Unsubscribe(
        brand_id=link.brand_id,
        address=link.address,
        purpose=link.purpose,
        text=_evidence(request, body),
        request_id=request_id(request),
    )
    outcome = await runtime.handle(command)
    if "text/html" in request.headers.get("accept", ""):
        done = f"<p>{html.escape(link.address)} will receive no more marketing messages.</p>"
        return HTMLResponse(_PAGE.format(title="Unsubscribed", body=done))
    answer = Unsubscribed(changed=outcome.changed, purpose=link.purpose.value)
    return JSONResponse(answer.model_dump(mode="json"))


@router.get(
    "/{token}",
    response_class=HTMLResponse,
    responses={404: {**_PROBLEM, "description": "A forged or altered token (`field`: `token`)"}},
)
async def unsubscribe_page(token: str, runtime: RuntimeDep) -> Response:
    """A page with the button that unsubscribes; opening the link changes nothing (mail
    scanners open every link)."""
    link = _read(runtime, token)
    if link is None:
        return _forged()
    form = _FORM.format(address=html.escape(link.address))
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=form))
