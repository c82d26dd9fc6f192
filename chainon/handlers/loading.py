"""How handlers load aggregates, and what every handler answers.

Handlers see the store through a ``Loader``: inside a unit of work it hands out the
unit's own instances, so a batch's later commands see its earlier ones' changes.
Brand-scoped lookups answer another brand's ids exactly as missing ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain import commands as cmd
from chainon.domain.addresses import Address
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.errors import NotFound
from chainon.domain.index import IndexEntry, IndexKind, contact_key, entry_id

A = TypeVar("A", bound=Aggregate)
Handled = tuple[cmd.Outcome, list[Aggregate]]


class Loader(Protocol):
    default_region: str
    list_unsubscribe: bool  # the deployment signs unsubscribe links (marketing email)

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None: ...


class Handler(Protocol):
    def __call__(self, loader: Loader, command: Any, now: datetime, /) -> Handled: ...


def get(loader: Loader, cls: type[A], aggregate_id: UUID) -> A:
    found = loader.find(cls, aggregate_id)
    if found is None:
        raise NotFound(f"no {cls.__name__.lower()} {aggregate_id}")
    return found


def conversation_of(loader: Loader, brand_id: UUID, conversation_id: UUID) -> Conversation:
    conversation = loader.find(Conversation, conversation_id)
    if conversation is None or conversation.brand_id != brand_id:
        raise NotFound(f"no conversation {conversation_id}")
    return conversation


def contact_of(loader: Loader, brand_id: UUID, contact_id: UUID) -> Contact:
    contact = loader.find(Contact, contact_id)
    if contact is None or contact.brand_id != brand_id:
        raise NotFound(f"no contact {contact_id}")
    return contact


def find_contact(loader: Loader, brand_id: UUID, address: Address) -> Contact | None:
    entry = loader.find(
        IndexEntry, entry_id(IndexKind.CONTACT_ADDRESS, contact_key(brand_id, address))
    )
    return None if entry is None else get(loader, Contact, entry.target_id)


def find_entry(loader: Loader, kind: IndexKind, key: str) -> IndexEntry | None:
    return loader.find(IndexEntry, entry_id(kind, key))


def outcome_of(conversation: Conversation, changed: bool, **fields: Any) -> cmd.Outcome:
    """The answer naming a conversation, its brand and contact, and whatever else applies."""
    return cmd.Outcome(
        changed=changed,
        brand_id=conversation.brand_id,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        **fields,
    )
