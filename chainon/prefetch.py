"""What a batch of commands will look up, read from the store in one query per kind
before any of them is decided (a store round trip per lookup was most of a batch's time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from chainon.decision_cache import DecisionCache
from chainon.destination_guard import DestinationGuard
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import parse_address
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.errors import InvalidInput
from chainon.domain.idempotency import request_id
from chainon.domain.index import (
    IndexEntry,
    IndexKind,
    contact_key,
    entry_id,
    inbound_key,
    outbound_key,
)
from chainon.domain.sending_limits import Destination, destination_of
from chainon.messagebus import IdempotencyClaim

Batch = Sequence[tuple[cmd.Command, IdempotencyClaim | None]]


def prefetch(decisions: DecisionCache, batch: Batch, default_region: str) -> None:
    decisions.prefetch(lookups(batch, default_region))
    _prefetch_contacts(decisions, batch, default_region)


def lookups(batch: Batch, default_region: str) -> list[UUID]:
    """Ids the batch's handlers will look up first, known from the commands alone."""
    found: list[UUID] = []
    for command, idempotency in batch:
        if idempotency is not None:
            found.append(request_id(idempotency.brand_id, idempotency.key))
        found.extend(_looked_up(command, default_region))
    return found


def _looked_up(command: cmd.Command, default_region: str) -> Iterable[UUID]:
    if isinstance(command, cmd.SendMessage):
        yield command.brand_id
        if (entry := contact_entry(command, default_region)) is not None:
            yield entry
    elif isinstance(command, cmd.ReceiveMessage):
        provider, given, scope = command.provider, command.provider_message_id, command.brand_id
        yield entry_id(IndexKind.PROVIDER_MESSAGE, inbound_key(provider, given, scope))
        yield ids.inbound_message_id(provider, given, scope)  # a refusal's id
        if scope is not None:  # the sandbox's key from before it was scoped per brand
            yield entry_id(IndexKind.PROVIDER_MESSAGE, inbound_key(provider, given))
    elif isinstance(command, cmd.RecordReceipt):
        for segment in (command.provider_message_id, *command.alternative_ids):
            yield entry_id(IndexKind.PROVIDER_MESSAGE, outbound_key(command.provider, segment))
    elif isinstance(command, cmd.RecordSent):
        yield command.conversation_id
        for segment in (command.provider_message_id, *command.segment_ids):
            yield ids.early_receipt_id(command.provider, segment)
    else:
        conversation_id = getattr(command, "conversation_id", None)
        if isinstance(conversation_id, UUID):
            yield conversation_id


def _prefetch_contacts(decisions: DecisionCache, batch: Batch, default_region: str) -> None:
    """The contacts the batch's sends address and their consent ledgers, then their
    current conversations: what a send looks up after the contact's index entry, two
    queries for the whole batch (one when every recipient is new, as in a campaign)."""
    sends = [
        (command, entry)
        for command, _ in batch
        if isinstance(command, cmd.SendMessage)
        and (entry := contact_entry(command, default_region)) is not None
    ]
    contact_ids: list[UUID] = []
    ledgers: list[UUID] = []  # the consent the send policy asks, known or new contact
    for command, entry in sends:
        found = decisions.cached(entry)
        if isinstance(found, IndexEntry):
            contact_ids.append(found.target_id)
            ledgers.append(ids.consent_id(command.brand_id, found.target_id))
        else:
            address = parse_address(command.to, default_region=default_region, field="to")
            new = ids.contact_id(command.brand_id, address.value)
            ledgers.append(ids.consent_id(command.brand_id, new))
    # The brands' blocked number prefixes (SMS pumping), one small aggregate per brand.
    blocks = {ids.destination_blocks_id(command.brand_id) for command, _ in sends}
    decisions.prefetch([*contact_ids, *ledgers, *blocks])
    contacts = (decisions.cached(i) for i in contact_ids)
    decisions.prefetch(
        c.current_conversation_id
        for c in contacts
        if isinstance(c, Contact) and c.current_conversation_id is not None
    )


def prefetch_destinations(
    guard: DestinationGuard, batch: Batch, default_region: str, now: datetime
) -> None:
    """The pumping guard's counts for the batch's phone sends, one read per brand."""
    by_brand: dict[UUID, list[Destination]] = {}
    for command, _ in batch:
        if not isinstance(command, cmd.SendMessage):
            continue
        try:
            address = parse_address(command.to, default_region=default_region, field="to")
        except InvalidInput:
            continue
        channel = command.channel or Channel.SMS
        found = destination_of(channel, address.value)
        if found is not None:
            by_brand.setdefault(command.brand_id, []).append(found)
    for brand_id, destinations in by_brand.items():
        guard.prefetch(brand_id, now, destinations)


def contact_entry(command: cmd.SendMessage, default_region: str) -> UUID | None:
    """The id of the index entry naming the send's contact (None if the address is
    unreadable: the handler refuses it, naming the field)."""
    try:
        address = parse_address(command.to, default_region=default_region, field="to")
    except InvalidInput:
        return None
    return entry_id(IndexKind.CONTACT_ADDRESS, contact_key(command.brand_id, address))
