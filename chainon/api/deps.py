"""What every route needs: the runtime, the caller's brand, an idempotency claim."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chainon.messagebus import IdempotencyClaim
from chainon.runtime import Runtime
from domain.brand import Brand
from domain.commands import Command
from domain.errors import InvalidInput
from domain.idempotency import MAX_KEY_LENGTH

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


class Idempotency:
    """The ``Idempotency-Key`` header, turned into a claim on a given command."""

    def __init__(self, key: str | None) -> None:
        if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise InvalidInput(f"must be 1 to {MAX_KEY_LENGTH} characters", field="Idempotency-Key")
        self.key = key

    def claim(self, brand: Brand, route: str, command: Command) -> IdempotencyClaim | None:
        if self.key is None:
            return None
        canonical = command.model_dump_json(exclude={"request_id"})
        fingerprint = hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()
        return IdempotencyClaim(brand.id, self.key, fingerprint)


async def idempotency(
    idempotency_key: Annotated[
        str | None,
        Header(description="Retries with the same key and body return the first answer."),
    ] = None,
) -> Idempotency:
    return Idempotency(idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]


def request_id(request: Request) -> str | None:
    value: str | None = getattr(request.state, "request_id", None)
    return value
