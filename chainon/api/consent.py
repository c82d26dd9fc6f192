"""Consent: a contact's opt-ins and opt-outs with the brand, with the evidence of each."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from chainon.api.answers import act
from chainon.api.auditing import audit
from chainon.api.deps import BrandDep, IdempotencyDep, RuntimeDep
from chainon.api.schemas import Accepted, Strict
from chainon.audit import Action
from chainon.auth import split_api_key
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.channels import Channel
from chainon.domain.consent import CONSENTED, Change, Consent, EvidenceSource, Purpose

router = APIRouter(prefix="/v1/contacts", tags=["consent"])


class ConsentIn(Strict):
    action: Literal["grant", "revoke"]
    purpose: Literal[Purpose.MARKETING, Purpose.SERVICE] = Field(
        description="`marketing` or `service` (conversational replies need no consent)."
    )
    channel: Channel | None = Field(
        None,
        description="Only this channel; default: every channel of the brand (an opt-out "
        "anywhere stops marketing everywhere).",
    )
    note: Annotated[str, Field(max_length=1000)] = Field(
        "", description="Why, in words: kept with the evidence."
    )
    source: Literal[EvidenceSource.API, EvidenceSource.WEB_FORM, EvidenceSource.AGENT] = Field(
        EvidenceSource.API,
        description="Where the brand learnt it: `api` (the default), `web_form` (its own "
        "form), `agent` (its support). Keywords and imports are recorded by Chainon itself.",
    )


class ChannelState(BaseModel):
    purpose: Purpose
    all_channels: Literal["granted", "revoked", "none"] = Field(
        description="What a brand-wide change said last; `none`: never said."
    )
    channels: dict[Channel, Literal["granted", "revoked", "none"]] = Field(
        description="What a send on each channel is told: its own change or a brand-wide one."
    )


class EvidenceOut(BaseModel):
    source: str
    text: str
    channel: Channel | None
    address: str
    actor: str
    rule: str
    message_id: UUID | None
    uncertain: bool
    collected_at: datetime | None = Field(
        None, description="When the contact said it, where that was before (an import)."
    )


class ChangeOut(BaseModel):
    at: datetime
    granted: bool
    purpose: Purpose
    channel: Channel | None = Field(description="null: every channel of the brand.")
    evidence: EvidenceOut

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        e = change.evidence
        return cls(
            at=change.at,
            granted=change.granted,
            purpose=change.purpose,
            channel=change.channel,
            evidence=EvidenceOut(
                source=e.source.value,
                text=e.text,
                channel=e.channel,
                address=e.address,
                actor=e.actor,
                rule=e.rule,
                message_id=e.message_id,
                uncertain=e.uncertain,
                collected_at=e.collected_at,
            ),
        )


class ConsentOut(BaseModel):
    contact_id: UUID
    state: list[ChannelState]
    history: list[ChangeOut] = Field(description="Every change, oldest first.")


def _word(state: bool | None) -> Literal["granted", "revoked", "none"]:
    return "none" if state is None else "granted" if state else "revoked"


def consent_out(contact_id: UUID, ledger: Consent | None) -> ConsentOut:
    def read(purpose: Purpose, channel: Channel | None) -> bool | None:
        return ledger.state(purpose, channel) if ledger is not None else None

    return ConsentOut(
        contact_id=contact_id,
        state=[
            ChannelState(
                purpose=purpose,
                all_channels=_word(read(purpose, None)),
                channels={channel: _word(read(purpose, channel)) for channel in Channel},
            )
            for purpose in CONSENTED
        ],
        history=[ChangeOut.of(c) for c in ledger.changes] if ledger is not None else [],
    )


def ledger_of(core: Core, brand_id: UUID, contact_id: UUID) -> Consent | None:
    core.contact_of(brand_id, contact_id)  # another brand's contact: 404, as a missing one
    return core.find(Consent, ids.consent_id(brand_id, contact_id))


def api_key_id(request: Request) -> str:
    """The id of the key that made the change (never the key itself): the evidence's actor."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return f"api_key:{split_api_key(key.strip()) or '?'}" if scheme.lower() == "bearer" else ""


@router.post("/{contact_id}/consent", response_model=Accepted)
async def change_consent(
    contact_id: UUID,
    body: ConsentIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    request: Request,
    response: Response,
) -> Accepted:
    """Records an opt-in or an opt-out the brand learnt itself, with the request as its
    evidence (source `api` unless the body says `web_form` or `agent`, the API key's id as
    the actor). `changed: false` when that consent was already in force."""
    fields: dict[str, Any] = {
        "brand_id": brand.id,
        "contact_id": contact_id,
        "purpose": body.purpose,
        "channel": body.channel,
        "source": body.source,
        "text": body.model_dump_json(exclude_defaults=True),
        "actor": api_key_id(request),
    }
    command = cmd.GrantConsent(**fields) if body.action == "grant" else cmd.RevokeConsent(**fields)
    done = await act(runtime, brand, idempotency, "consent", command, response)
    detail = {"change": body.action, "purpose": body.purpose.value, "changed": done.changed}
    if body.channel is not None:
        detail["channel"] = body.channel.value
    await audit(request, runtime, brand.id, Action.CONSENT_CHANGED, contact_id, detail)
    return done


@router.get("/{contact_id}/consent", response_model=ConsentOut)
async def get_consent(
    contact_id: UUID, brand: BrandDep, runtime: RuntimeDep, request: Request
) -> ConsentOut:
    """The contact's consent now, per purpose and channel, and every change with its
    evidence: what a regulator or the consumer may ask for."""
    ledger = await runtime.call(ledger_of, runtime.core, brand.id, contact_id)
    await audit(request, runtime, brand.id, Action.CONSENT_READ, contact_id)
    return consent_out(contact_id, ledger)
