"""What every console page needs: templates, the signed-in agent, CSRF, the headers.

Every page goes out with a Content-Security-Policy that allows scripts and styles from
this origin only (no inline script, no eval): the vendored htmx, its SSE extension and
``console.js``. Jinja2 escapes every value, so a consumer's ``<script>`` is text.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from chainon.api.deps import RuntimeDep, check_team
from chainon.api.queue_stream import teams_of
from chainon.console import i18n
from chainon.console.session import COOKIE, PRE_COOKIE, Session, decode, load_secret, same_token
from chainon.domain.access import Principal, Scope
from chainon.domain.brand import Brand
from chainon.runtime import Runtime

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
LANG_COOKIE = "chainon_lang"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class SignInRequired(Exception):
    """Answered with a redirect to the sign-in page (an htmx request: a full reload)."""


def secret_of(runtime: Runtime) -> bytes:
    cached: bytes | None = getattr(runtime, "_console_secret", None)
    if cached is None:
        cached = load_secret(runtime.settings)
        runtime._console_secret = cached  # type: ignore[attr-defined]
    return cached


def language(request: Request) -> str:
    return i18n.pick(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


@dataclass(frozen=True)
class Agent:
    """The signed-in agent: their session, their brand and what their key lets them do,
    as of this request (an agent's key: its role and teams; a brand's key: its scopes)."""

    session: Session
    brand: Brand
    lang: str
    principal: Principal

    @property
    def name(self) -> str:
        return self.session.agent

    @property
    def teams(self) -> tuple[str, ...] | None:
        return teams_of(self.principal)


def _checked(runtime: Runtime, session: Session) -> Brand | None:
    brand = runtime.core.find(Brand, session.brand)
    if brand is None or not brand.accepts_key(session.key_id, session.key_hash):
        return None  # the key was revoked since sign-in
    return brand


async def current_agent(request: Request, runtime: RuntimeDep) -> Agent:
    session = decode(secret_of(runtime), request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired()
    brand = await runtime.call(_checked, runtime, session)
    if brand is None:
        raise SignInRequired()
    principal = brand.principal_of(session.key_id)
    if not principal.may(Scope.CONVERSATIONS_READ):
        raise SignInRequired()
    await check_team(request, runtime, brand, principal)  # as the API does
    return Agent(session, brand, language(request), principal)


AgentDep = Annotated[Agent, Depends(current_agent)]


async def csrf_checked(request: Request, agent: AgentDep) -> Agent:
    """A state-changing request carries the session's token, in the form or a header."""
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    if not same_token(given, agent.session.csrf):
        raise HTTPException(403, "csrf: the form's token is missing or does not match")
    return agent


CheckedAgent = Annotated[Agent, Depends(csrf_checked)]


def pre_session_token(request: Request) -> str:
    return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)


def render(
    request: Request, name: str, status: int = 200, *, lang: str | None = None, **context: Any
) -> HTMLResponse:
    lang = lang or language(request)
    page = templates.get_template(name).render(
        t=i18n.STRINGS[lang],
        lang=lang,
        one=partial(i18n.singular, lang),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)
