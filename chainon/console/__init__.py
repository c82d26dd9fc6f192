"""The agent console (``/console``) and the phone simulator (``/sandbox/phone``).

Server-rendered pages (Jinja2) over the same core and read models as the API, with htmx
and its SSE extension vendored under ``static/vendor``: no build step, no CDN.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from chainon.console import conversation, pages, phone
from chainon.console.web import HERE, SECURITY_HEADERS, SignInRequired


async def _sign_in(request: Request, _: Exception) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/console/sign-in"})
    if request.headers.get("accept") == "text/event-stream":
        return Response(status_code=401)  # an EventSource must not follow a redirect
    return RedirectResponse("/console/sign-in", status_code=303, headers=SECURITY_HEADERS)


def install(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (pages, conversation, phone):
        app.include_router(module.router)
    app.add_exception_handler(SignInRequired, _sign_in)
