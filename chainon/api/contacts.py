"""Contacts: one person for the brand, with every address and conversation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from chainon.api.deps import BrandDep, IdempotencyDep, RuntimeDep
from chainon.api.messages import accepted
from chainon.api.schemas import Accepted, AddressIn, ContactOut
from chainon.runtime import Runtime
from domain import commands as cmd
from domain.addresses import parse_address
from domain.contact import Contact
from domain.errors import NotFound

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


def contact_out(runtime: Runtime, contact: Contact) -> ContactOut:
    conversations = [c.id for c in runtime.core.conversations_of(contact)]
    return ContactOut.of(contact, conversations)


@router.get("", response_model=ContactOut)
async def find_contact(
    brand: BrandDep,
    runtime: RuntimeDep,
    address: Annotated[str, Query(min_length=1, max_length=320, examples=["+33612345678"])],
) -> ContactOut:
    """The contact at an address (a phone number in any usual spelling, or an email)."""
    parsed = parse_address(address, default_region=runtime.settings.default_region)
    contact = await runtime.call(runtime.core.find_contact, brand.id, parsed)
    if contact is None:
        raise NotFound("no contact at this address", field="address")
    return await runtime.call(contact_out, runtime, contact)


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(contact_id: UUID, brand: BrandDep, runtime: RuntimeDep) -> ContactOut:
    contact = await runtime.call(runtime.core.contact_of, brand.id, contact_id)
    return await runtime.call(contact_out, runtime, contact)


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
