"""The audit entry a request leaves: its principal as the actor, its request id.

Recorded after what was audited succeeded (a read refused with 404 read nothing), before
the answer leaves: an entry that cannot be written fails the request with a 500, so that
no personal data is handed out unrecorded. One insert, on the store's thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from fastapi import Request

from chainon.api.deps import request_id
from chainon.audit import Action
from chainon.runtime import Runtime


def actor_of(request: Request) -> str:
    """The principal that authenticated the request: ``key:<key id>`` for an API key; a
    principal the authentication named itself (``request.state.actor``) comes first."""
    named = getattr(request.state, "actor", None)
    if isinstance(named, str) and named:
        return named
    key_id = getattr(request.state, "key_id", None)
    return f"key:{key_id}" if key_id else "anonymous"


async def audit(
    request: Request,
    runtime: Runtime,
    brand_id: UUID,
    action: Action,
    subject: object,
    detail: Mapping[str, Any] | None = None,
    *,
    actor: str | None = None,
) -> None:
    await runtime.call(
        runtime.audit.record,
        brand_id,
        actor or actor_of(request),
        action,
        subject,
        request_id(request),
        detail,
    )
