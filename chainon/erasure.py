"""Erasing a contact (GDPR art. 17) beside an append-only store: crypto-shredding.

``ContactErased`` is recorded on the contact, then its data key is destroyed: every field
its events (its own, its conversations', its consent ledger's) list in ``personal_fields``
then reads "erased" (``chainon.personal_data``). Events written before encryption existed
hold their personal data in plaintext, and no key reaches them: they are counted, so that
the operator is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from chainon.campaign_audience import AudienceStore
from chainon.core import Core
from chainon.domain import ids
from chainon.domain.contact import Contact
from chainon.personal_data import HEADER

if TYPE_CHECKING:
    from chainon.runtime import Runtime


@dataclass(frozen=True)
class Erasure:
    contact_id: UUID
    recorded: bool  # False: it was erased already (the key is destroyed again all the same)
    keys_destroyed: int
    plaintext_events: int  # personal data written before encryption existed, still readable
    # what the contact was reached at, to find it outside the store; never shown
    addresses: tuple[str, ...] = field(default=(), repr=False)


def erase(runtime: Runtime, brand_id: UUID, contact_id: UUID, *, by: str) -> Erasure:
    """Erases the contact in the store, then its rows in the brand's campaign audiences
    (the brand's input beside the read models, which no rebuild recomputes)."""
    erasure = erase_contact(runtime.core, brand_id, contact_id, by=by)
    AudienceStore.of(runtime.views.store).forget(brand_id, erasure.addresses)
    return erasure


def erase_contact(core: Core, brand_id: UUID, contact_id: UUID, *, by: str) -> Erasure:
    """Erases the contact (another brand's is not found, as a missing one)."""

    def erase() -> Erasure:
        contact = core.contact_of(brand_id, contact_id)
        addresses = tuple(a.value for a in contact.addresses)
        recorded = contact.erase(by=by, at=core.clock())
        if recorded:
            core.save_or_conflict(contact, what=f"contact {contact_id}")
        destroyed = core.keys.destroy(contact.id)
        owned = _aggregates_of(contact)
        for aggregate_id in owned:
            core.decisions.evict(aggregate_id)  # instances held with the data in clear
        plaintext = _plaintext_events(core, owned)
        return Erasure(contact.id, recorded, destroyed, plaintext, addresses)

    return core.unit.apart(erase)


def _aggregates_of(contact: Contact) -> list[UUID]:
    """The contact and the aggregates whose events carry its personal data."""
    conversations = [
        ids.conversation_id(contact.id, n) for n in range(1, contact.conversation_count + 1)
    ]
    bots = [ids.bot_id(c) for c in conversations]
    return [contact.id, *conversations, *bots, ids.consent_id(contact.brand_id, contact.id)]


def _plaintext_events(core: Core, aggregate_ids: list[UUID]) -> int:
    """Stored events with personal fields and no encryption header."""
    from eventsourcing.utils import resolve_topic

    count = 0
    for aggregate_id in aggregate_ids:
        for stored in core.recorder.select_events(aggregate_id):
            if not getattr(resolve_topic(stored.topic), "personal_fields", ()):
                continue
            state = core.mapper.transcoder.decode(stored.state)
            count += HEADER not in state
    return count
