"""A brand's API keys, issued and revoked over the API (``chainon brands keys`` does the
same on the host). Each issue and revocation leaves an audit entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from chainon.api.auditing import audit
from chainon.api.deps import BrandDep, RuntimeDep
from chainon.api.schemas import Strict
from chainon.audit import Action
from chainon.auth import split_api_key
from chainon.domain.brand import Brand
from chainon.domain.errors import NotFound
from chainon.domain.plain_text import PlainText

router = APIRouter(prefix="/v1/keys", tags=["keys"])

KeyId = Annotated[str, Path(pattern="^[0-9a-f]{12}$", description="The id inside chn_<id>_…")]


class KeyIn(Strict):
    label: PlainText = Field("default", min_length=1, max_length=64)
    expires_at: datetime | None = Field(None, description="UTC unless an offset is given.")


class IssuedKey(BaseModel):
    id: str
    key: str = Field(description="The key itself: shown this once, only its hash is kept.")
    label: str
    expires_at: datetime | None = None


@router.post("", status_code=201, response_model=IssuedKey)
async def issue_key(
    body: KeyIn, brand: BrandDep, runtime: RuntimeDep, request: Request
) -> IssuedKey:
    """Issues a key for the caller's brand."""
    expires_at = body.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    key = await runtime.call(runtime.core.api_keys.issue, brand.id, body.label, expires_at)
    key_id = split_api_key(key) or ""
    await audit(request, runtime, brand.id, Action.KEY_ISSUED, key_id, {"label": body.label})
    return IssuedKey(id=key_id, key=key, label=body.label, expires_at=expires_at)


@router.delete("/{key_id}", status_code=204)
async def revoke_key(
    key_id: KeyId, brand: BrandDep, runtime: RuntimeDep, request: Request
) -> Response:
    """Revokes one of the brand's keys; a key the brand never had answers 404."""

    def revoke() -> None:
        current = runtime.core.get(Brand, brand.id)
        if key_id not in current.api_keys:
            raise NotFound(f"no key {key_id}", field="key_id")
        runtime.core.api_keys.revoke(brand.id, key_id)

    await runtime.call(revoke)
    await audit(request, runtime, brand.id, Action.KEY_REVOKED, key_id)
    return Response(status_code=204)
