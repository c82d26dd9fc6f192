"""Opt-ins and opt-outs a brand collected elsewhere, imported from a CSV
(``chainon.consent_import``): streamed to disk, then read row by row on a worker thread."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from chainon.api.auditing import audit
from chainon.api.campaigns import RowError
from chainon.api.consent import api_key_id
from chainon.api.deps import BrandDep, RuntimeDep, request_id
from chainon.api.uploads import spooled_text
from chainon.audit import Action
from chainon.consent_import import import_consent

router = APIRouter(prefix="/v1/consent", tags=["consent"])


class ConsentImportOut(BaseModel):
    granted: int = Field(description="Rows that recorded an opt-in.")
    revoked: int = Field(description="Rows that recorded an opt-out.")
    unchanged: int = Field(description="Rows already in force, or imported before.")
    rejected: int = Field(description="Rows left out; each is listed in `errors` (first 1,000).")
    errors: list[RowError]


@router.post("/import", response_model=ConsentImportOut)
async def import_csv(brand: BrandDep, runtime: RuntimeDep, request: Request) -> ConsentImportOut:
    """Records the opt-ins and opt-outs of a CSV (`Content-Type: text/csv`, UTF-8): columns
    `address` and `purpose` (`marketing`, `service`); optional `status` (`granted`, the
    default, or `revoked`), `channel`, `collected_at` (ISO 8601 with an offset), `text`
    (the wording the contact agreed to), `country` (for a national number). Each row is
    recorded as `POST /v1/contacts/{id}/consent` would, with source `import`, the row as its
    evidence and the API key's id as its actor; a contact not met yet is registered. Bad
    rows are reported by line; the same rows imported again record nothing."""
    origin = f"POST /v1/consent/import (request {request_id(request)})"
    actor = api_key_id(request)
    async with spooled_text(request) as spool:
        region = runtime.settings.default_region
        report = await runtime.call(
            lambda: import_consent(
                runtime.core.handle_many,
                brand.id,
                spool,
                origin=origin,
                actor=actor,
                region=region,
            )
        )
    detail = {"granted": report.granted, "revoked": report.revoked, "rejected": report.rejected}
    await audit(request, runtime, brand.id, Action.CONSENT_IMPORTED, "import", detail)
    return ConsentImportOut(
        granted=report.granted,
        revoked=report.revoked,
        unchanged=report.unchanged,
        rejected=report.rejected,
        errors=[RowError(line=e.line, reason=e.reason) for e in report.errors],
    )
