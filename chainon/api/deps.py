"""What every route needs: the runtime, the caller (its brand, who it is, what it may do),
an idempotency claim."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import Depends, Header, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, WithJsonSchema

from chainon.api.scopes import scope_of
from chainon.auth import KeyExpired, split_api_key
from chainon.domain.access import Principal, Scope
from chainon.domain.brand import Brand
from chainon.domain.commands import Command
from chainon.domain.errors import NotFound
from chainon.domain.idempotency import KEY_PATTERN, MAX_KEY_LENGTH, checked_key
from chainon.messagebus import IdempotencyClaim
from chainon.rate_limits import Family, Limit, family_of
from chainon.runtime import Runtime

_log = structlog.get_logger("chainon.api")
_bearer = HTTPBearer(auto_error=False, description="An API key issued for your brand.")


# The dependencies are coroutines: FastAPI runs a plain function on a worker thread, a hop
# per dependency per request for what is only an attribute read.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class RateLimited(HTTPException):
    def __init__(self, family: Family, limit: Limit, retry_after: int) -> None:
        super().__init__(
            429,
            f"over the rate limit of this API key for {family.value} ({limit.describe()}): "
            f"retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.family = family


class ScopeMissing(HTTPException):
    """A key that may not call this route: 403, naming the scope it lacks."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(403, f"this API key lacks the scope {scope.value} that this route needs")
        self.scope = scope


@dataclass(frozen=True)
class Caller:
    """The request's brand and who acts for it (a key of the brand, or one of its agents)."""

    brand: Brand
    principal: Principal


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    # FastAPI solves a dependency's whole tree again wherever it is named (a route's
    # brand, then its idempotency claim): the runtime is read here, not a dependency.
    runtime: Runtime = request.app.state.runtime
    unauthorized = HTTPException(
        401,
        "a valid API key is required: Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    key = credentials.credentials
    try:
        # A key accepted a moment ago is answered from memory, without a thread or the store.
        brand = runtime.core.api_keys.remembered(key) or await runtime.call(
            runtime.core.api_keys.authenticate, key
        )
    except KeyExpired as expired:
        raise HTTPException(
            401, str(expired), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None
    key_id = split_api_key(key)
    if brand is None or key_id is None:
        raise unauthorized
    await _record_use(runtime, key_id)
    route_path = _route_path(request)
    principal = brand.principal_of(key_id)
    # the actor of what the audit log records: the agent by name, else the key
    request.state.key_id = key_id
    if principal.agent is not None:
        request.state.actor = f"agent:{principal.agent.name}"
    scope = scope_of(request.method, route_path)
    if not principal.may(scope):
        raise ScopeMissing(scope)
    await _take_token(request, runtime, key_id)
    await check_team(request, runtime, brand, principal)
    return Caller(brand, principal)


async def check_team(
    request: Request, runtime: Runtime, brand: Brand, principal: Principal
) -> None:
    """An agent acts on its teams' conversations only: another team's answers 404, exactly
    as a missing conversation does (its existence is not the agent's to learn). The console
    asks the same."""
    raw = request.path_params.get("conversation_id")
    if principal.teams is None or raw is None:
        return
    try:
        conversation_id = UUID(str(raw))
    except ValueError:
        return  # the route's own validation answers
    team = await runtime.call(
        runtime.core.read,
        lambda core: core.conversation_of(brand.id, conversation_id).team,
    )
    if not principal.sees(team):
        raise NotFound(f"no conversation {conversation_id}")


CallerDep = Annotated[Caller, Depends(current_caller)]


async def current_brand(caller: CallerDep) -> Brand:
    return caller.brand


async def current_principal(caller: CallerDep) -> Principal:
    return caller.principal


def _route_path(request: Request) -> str:
    """The matched route's path template; the URL's path (built on demand) only without one."""
    path: str | None = getattr(request.scope.get("route"), "path", None)
    return path if path is not None else request.url.path


async def _take_token(request: Request, runtime: Runtime, key_id: str) -> None:
    family = family_of(request.method, _route_path(request))
    limiter = runtime.rate_limiter
    limit = limiter.limit_of(family)
    if limit is None:
        return
    if limiter.blocking:
        decision = await runtime.call(limiter.take, key_id, family)
    else:
        decision = limiter.take(key_id, family)
    if not decision.admitted:
        raise RateLimited(family, limit, decision.retry_after)


async def _record_use(runtime: Runtime, key_id: str) -> None:
    usage = runtime.key_usage
    at = usage.due(key_id)
    if at is None:
        return
    try:
        await runtime.call(usage.write, key_id, at)
    except Exception as exc:  # a figure for operators: never worth failing the request
        _log.warning("api_key.last_use_not_recorded", key_id=key_id, error=repr(exc))


BrandDep = Annotated[Brand, Depends(current_brand)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _calls(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _calls(d, call) for d in dependant.dependencies)


async def refused_caller(request: Request) -> HTTPException | None:
    """The 401 (or 403) that the request's route would answer, if it asks for a caller.

    FastAPI reads and parses the body before it runs any dependency: a body that is not
    JSON would be answered before the API key was looked at, telling a caller without a
    key about the request it sent. An error raised that early asks here first.
    """
    dependant: Dependant | None = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not _calls(dependant, current_caller):
        return None
    try:
        await current_caller(request, await _bearer(request))
    except HTTPException as refused:
        return refused
    except NotFound:
        return None  # the caller is known; the route's own answer follows
    return None


class Idempotency:
    """The ``Idempotency-Key`` header, turned into a claim on a given command."""

    def __init__(self, key: str | None) -> None:
        self.key = key

    def claim(self, brand: Brand, route: str, command: Command) -> IdempotencyClaim | None:
        if self.key is None:
            return None
        canonical = command.model_dump_json(exclude={"request_id"})
        fingerprint = hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()
        return IdempotencyClaim(brand.id, self.key, fingerprint)


IdempotencyKey = Annotated[
    str,
    AfterValidator(checked_key),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN}
    ),
]


async def idempotency(
    _: CallerDep,  # the key is looked at only once the caller is known
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(
            alias="Idempotency-Key",
            description="Retries with the same key and body return the first answer. "
            "Printable ASCII, without leading or trailing spaces.",
            examples=["campaign-7:42"],
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]


def request_id(request: Request) -> str | None:
    value: str | None = getattr(request.state, "request_id", None)
    return value
