"""Contacts: one person for the brand, with every address and conversation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from chainon.api.answers import accepted
from chainon.api.auditing import audit
from chainon.api.consent import api_key_id
from chainon.api.cursors import CursorParam, contacts_cursor, contacts_mark
from chainon.api.deps import BrandDep, IdempotencyDep, RuntimeDep
from chainon.api.schemas import (
    Accepted,
    AddressIn,
    ContactOut,
    ContactPatch,
    ProfileOut,
    ProfilePage,
)
from chainon.audit import Action
from chainon.domain import commands as cmd
from chainon.domain.addresses import parse_address
from chainon.domain.consent import ConsentCriterion
from chainon.domain.contact import Contact
from chainon.domain.errors import InvalidInput, NotFound
from chainon.domain.plain_text import PlainText
from chainon.erasure import erase as erase_personal_data
from chainon.projections import crm_profile as crm
from chainon.projections.crm_profile import ProfileFilter
from chainon.runtime import Runtime

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


def contact_out(runtime: Runtime, contact: Contact) -> ContactOut:
    conversations = [c.id for c in runtime.core.conversations_of(contact)]
    return ContactOut.of(contact, conversations)


@router.get("", response_model=ContactOut)
async def find_contact(
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    address: Annotated[PlainText, Query(min_length=1, max_length=320, examples=["+33612345678"])],
) -> ContactOut:
    """The contact at an address (a phone number in any usual spelling, or an email)."""
    parsed = parse_address(address, default_region=runtime.settings.default_region)
    contact = await runtime.call(runtime.core.find_contact, brand.id, parsed)
    if contact is None:
        raise NotFound("no contact at this address", field="address")
    found = await runtime.call(contact_out, runtime, contact)
    await audit(request, runtime, brand.id, Action.CONTACT_READ, contact.id, {"view": "contact"})
    return found


@router.get("/search", response_model=ProfilePage)
async def search_contacts(
    brand: BrandDep,
    runtime: RuntimeDep,
    address: Annotated[PlainText | None, Query(max_length=320)] = None,
    name: Annotated[PlainText | None, Query(min_length=1, max_length=128)] = None,
    tag: Annotated[PlainText | None, Query(max_length=64)] = None,
    attribute: Annotated[
        PlainText | None, Query(max_length=1100, description="key:value", examples=["tier:gold"])
    ] = None,
    consent: Annotated[
        PlainText | None,
        Query(
            max_length=40,
            description="purpose:state[:channel], state granted, revoked or none",
            examples=["marketing:granted"],
        ),
    ] = None,
    cursor: CursorParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> ProfilePage:
    """CRM profiles by address, name, tag (of their conversations), attribute or consent
    (`marketing:granted`: the last word on marketing; `marketing:granted:sms`: what a send
    on SMS is told): the most recently seen first; pass ``next_cursor`` back as ``cursor``
    for the next page."""
    region = runtime.settings.default_region
    where = ProfileFilter(
        brand_id=brand.id,
        address=parse_address(address, default_region=region).value if address else None,
        name=name,
        tag=tag.strip().lower() if tag else None,
        attribute=_attribute(attribute) if attribute else None,
        consent=ConsentCriterion.parse(consent) if consent else None,
        after=contacts_mark(cursor) if cursor else None,
        limit=limit + 1,
    )
    caught_up, position = await _wait(runtime, min_position)
    found = await runtime.call(crm.search, runtime.views.store, where)
    page, more = found[:limit], len(found) > limit
    return ProfilePage(
        items=[ProfileOut.of(p) for p in page],
        next_cursor=contacts_cursor(crm.mark(page[-1])) if more else None,
        position=position,
        caught_up=caught_up,
    )


@router.get("/{contact_id}/profile", response_model=ProfileOut)
async def get_profile(
    contact_id: UUID,
    brand: BrandDep,
    runtime: RuntimeDep,
    request: Request,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> ProfileOut:
    """The contact's CRM profile: channels, counts, tags, attributes, last agent."""
    await _wait(runtime, min_position)
    found = await runtime.call(crm.profile, runtime.views.store, brand.id, contact_id)
    if found is None:
        raise NotFound(f"no contact {contact_id}")
    await audit(request, runtime, brand.id, Action.CONTACT_READ, contact_id, {"view": "profile"})
    return ProfileOut.of(found)


@router.patch("/{contact_id}")
async def update_contact(
    contact_id: UUID,
    body: ContactPatch,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    """Sets the contact's name and attributes; a null attribute value removes it."""
    fields: dict[str, object] = {"attributes": body.attributes}
    if "name" in body.model_fields_set:
        fields["name"] = body.name
    command = cmd.UpdateContact(brand_id=brand.id, contact_id=contact_id, **fields)
    outcome = await runtime.handle(command, idempotency.claim(brand, "contact", command))
    return accepted(outcome, response)


def _attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition(":")
    if not sep or not key:
        raise InvalidInput("must be key:value", field="attribute")
    return key, value


async def _wait(runtime: Runtime, min_position: int | None) -> tuple[bool | None, int]:
    views = runtime.views
    caught_up = None
    if min_position is not None:
        caught_up = await runtime.caught_up(min_position, 5.0)
    position = await runtime.call(lambda: views.position)
    return caught_up, position


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(
    contact_id: UUID, brand: BrandDep, runtime: RuntimeDep, request: Request
) -> ContactOut:
    contact = await runtime.call(runtime.core.contact_of, brand.id, contact_id)
    found = await runtime.call(contact_out, runtime, contact)
    await audit(request, runtime, brand.id, Action.CONTACT_READ, contact_id, {"view": "contact"})
    return found


@router.delete("/{contact_id}", status_code=204)
async def erase_contact(
    contact_id: UUID, brand: BrandDep, runtime: RuntimeDep, request: Request
) -> Response:
    """Erases the contact's personal data (GDPR art. 17): its data key is destroyed and
    `Contact.ContactErased` recorded; its addresses, name, attributes, message texts and
    consent wording then read "erased" (the read models once rebuilt). Idempotent: an
    erased contact answers 204 again and is still found, erased."""
    erasure = await runtime.call(
        erase_personal_data, runtime, brand.id, contact_id, by=api_key_id(request)
    )
    detail = {"recorded": str(erasure.recorded).lower()}
    await audit(request, runtime, brand.id, Action.CONTACT_ERASED, contact_id, detail)
    return Response(status_code=204)


@router.post("/{contact_id}/addresses")
async def add_address(
    contact_id: UUID,
    body: AddressIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    """Adds an address (a phone beside an email...) so one conversation spans channels."""
    command = cmd.AddContactAddress(brand_id=brand.id, contact_id=contact_id, address=body.address)
    outcome = await runtime.handle(command, idempotency.claim(brand, "address", command))
    return accepted(outcome, response)
