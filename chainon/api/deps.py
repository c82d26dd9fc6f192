"""What every route needs: the runtime, the caller's brand, an idempotency claim."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, WithJsonSchema

from chainon.messagebus import IdempotencyClaim
from chainon.runtime import Runtime
from domain.brand import Brand
from domain.commands import Command
from domain.idempotency import KEY_PATTERN, MAX_KEY_LENGTH, checked_key

_bearer = HTTPBearer(auto_error=False, description="An API key issued for your brand.")


# The dependencies are coroutines: FastAPI runs a plain function on a worker thread, a hop
# per dependency per request for what is only an attribute read.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_brand(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Brand:
    unauthorized = HTTPException(
        401,
        "a valid API key is required: Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    key = credentials.credentials
    # A key accepted a moment ago is answered from memory, without a thread or the store.
    brand = runtime.core.api_keys.remembered(key) or await runtime.call(
        runtime.core.api_keys.authenticate, key
    )
    if brand is None:
        raise unauthorized
    return brand


BrandDep = Annotated[Brand, Depends(current_brand)]


def _calls(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _calls(d, call) for d in dependant.dependencies)


async def refused_caller(request: Request) -> HTTPException | None:
    """The 401 that the request's route would answer, if the route asks for a brand.

    FastAPI reads and parses the body before it runs any dependency: a body that is not
    JSON would be answered before the API key was looked at, telling a caller without a
    key about the request it sent. An error raised that early asks here first.
    """
    dependant: Dependant | None = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not _calls(dependant, current_brand):
        return None
    try:
        await current_brand(await get_runtime(request), await _bearer(request))
    except HTTPException as refused:
        return refused
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
    _: BrandDep,  # the key is looked at only once the caller is known
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
