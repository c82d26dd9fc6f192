"""``GET /v1/audit``: the brand's audit log, newest first, a page at a time.

The brand's own entries only, for an ``admin`` key (``chainon.api.scopes``): who read what
is itself personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from chainon.api.cursors import CursorParam, audit_cursor, audit_position
from chainon.api.deps import BrandDep, RuntimeDep
from chainon.audit import Action, AuditEntry, AuditFilter
from chainon.domain.errors import InvalidInput
from chainon.domain.plain_text import PlainText

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    brand_id: UUID
    actor: str
    action: str
    subject: str
    request_id: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=entry.id,
            at=entry.at,
            brand_id=entry.brand_id,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            request_id=entry.request_id,
            detail=dict(entry.detail),
        )


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = None


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


@router.get("", response_model=AuditPage)
async def audit_log(
    brand: BrandDep,
    runtime: RuntimeDep,
    actor: Annotated[
        PlainText | None,
        Query(min_length=1, max_length=200, description="`key:<key id>`, `cli:<user>`…"),
    ] = None,
    action: Action | None = None,
    since: Annotated[
        datetime | None,
        Query(alias="from", description="ISO 8601, included; UTC unless an offset is given."),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(alias="to", description="ISO 8601, included; UTC unless an offset is given."),
    ] = None,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Who did what with the brand's personal data: reads of conversations and contacts,
    sends and replies, consent changes, exports, erasures, keys issued and revoked; each
    with the request id its answer carried (``X-Request-Id``)."""
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and until < since:
        raise InvalidInput("is before from", field="to")
    where = AuditFilter(
        brand_id=brand.id,
        actor=actor,
        action=action.value if action else None,
        since=since,
        until=until,
        before=audit_position(cursor) if cursor else None,
        limit=limit + 1,
    )
    found = await runtime.call(runtime.audit.entries, where)
    page, more = found[:limit], len(found) > limit
    return AuditPage(
        items=[AuditEntryOut.of(entry) for entry in page],
        next_cursor=audit_cursor(page[-1].id) if more else None,
    )
