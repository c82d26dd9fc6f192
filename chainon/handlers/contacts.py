"""Contacts: found or registered by address, edited by agents, and their conversations."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain import commands as cmd
from chainon.domain.addresses import Address, parse_address
from chainon.domain.brand import Brand
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.errors import Conflict
from chainon.domain.index import IndexEntry, IndexKind, contact_key
from chainon.domain.routing import joins
from chainon.handlers.loading import Handled, Loader, contact_of, find_contact, get


def contact_for(
    loader: Loader, brand_id: UUID, address: Address, now: datetime
) -> tuple[Contact, list[Aggregate]]:
    """The contact at this address, registered (with its index entry) when new."""
    contact = find_contact(loader, brand_id, address)
    if contact is not None:
        return contact, []
    contact = Contact.register(brand_id, address, at=now)
    entry = IndexEntry.claim(
        IndexKind.CONTACT_ADDRESS, contact_key(brand_id, address), contact.id, at=now
    )
    return contact, [entry]


def current_conversation(
    loader: Loader, brand: Brand, contact: Contact, now: datetime
) -> Conversation:
    """The contact's current conversation, or their next one when it no longer takes
    new messages (resolved longer ago than the brand's reopen window)."""
    if contact.current_conversation_id is not None:
        current = get(loader, Conversation, contact.current_conversation_id)
        if joins(current, brand, at=now):
            return current
    conversation_id, number = contact.start_conversation(at=now)
    return Conversation.open(conversation_id, brand.id, contact.id, number, at=now)


def update_contact(loader: Loader, command: cmd.UpdateContact, now: datetime) -> Handled:
    contact = contact_of(loader, command.brand_id, command.contact_id)
    changed = False
    if "name" in command.model_fields_set:
        changed |= contact.rename(command.name, at=now)
    for key, value in command.attributes.items():
        changed |= contact.set_attribute(key, value, at=now)
    outcome = cmd.Outcome(changed=changed, brand_id=contact.brand_id, contact_id=contact.id)
    return outcome, [contact]


def add_contact_address(loader: Loader, command: cmd.AddContactAddress, now: datetime) -> Handled:
    contact = contact_of(loader, command.brand_id, command.contact_id)
    address = parse_address(command.address, default_region=loader.default_region)
    owner = find_contact(loader, contact.brand_id, address)
    if owner is not None and owner.id != contact.id:
        raise Conflict("this address belongs to another contact", field="address")
    changed = owner is None
    outcome = cmd.Outcome(changed=changed, brand_id=contact.brand_id, contact_id=contact.id)
    if not changed:
        return outcome, []
    contact.add_address(address, at=now)
    entry = IndexEntry.claim(
        IndexKind.CONTACT_ADDRESS, contact_key(contact.brand_id, address), contact.id, at=now
    )
    return outcome, [contact, entry]
