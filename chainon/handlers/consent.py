"""Consent: a brand's own record of a contact's opt-in or opt-out, and the ledger every
send asks (``domain.consent``, ``domain.send_policy``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import parse_address, parse_email
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.consent import Consent, Evidence, EvidenceSource, Purpose, Scope
from chainon.domain.contact import Contact
from chainon.domain.destination_blocks import DestinationBlocks
from chainon.domain.errors import NotFound
from chainon.handlers.contacts import contact_for
from chainon.handlers.loading import Handled, Loader, contact_of, find_contact, get


def ledger_for(loader: Loader, brand_id: UUID, contact_id: UUID, now: datetime) -> Consent:
    """The contact's ledger with the brand, opened on its first change."""
    found = loader.find(Consent, ids.consent_id(brand_id, contact_id))
    return found if found is not None else Consent.open(brand_id, contact_id, at=now)


def ledger_of(loader: Loader, brand_id: UUID, contact_id: UUID) -> Consent | None:
    """The ledger a send asks; None when the contact never said anything either way."""
    return loader.find(Consent, ids.consent_id(brand_id, contact_id))


def configure_opt_out_mention(
    loader: Loader, command: cmd.ConfigureOptOutMention, now: datetime
) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    changed = brand.configure_opt_out_mention(command.append, at=now)
    return cmd.Outcome(changed=changed, brand_id=brand.id), [brand] if changed else []


def configure_settings(
    loader: Loader, command: cmd.ConfigureConsentSettings, now: datetime
) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    changed = brand.configure_consent(command.settings, actor=command.actor, at=now)
    return cmd.Outcome(changed=changed, brand_id=brand.id), [brand] if changed else []


def configure_limits(loader: Loader, command: cmd.ConfigureSendingLimits, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    changed = brand.configure_sending_limits(command.limits, actor=command.actor, at=now)
    return cmd.Outcome(changed=changed, brand_id=brand.id), [brand] if changed else []


def lift_block(loader: Loader, command: cmd.LiftDestinationBlock, now: datetime) -> Handled:
    """Refused (404) for a prefix that is not blocked, as for any missing thing."""
    blocks = loader.find(DestinationBlocks, ids.destination_blocks_id(command.brand_id))
    if (
        blocks is None
        or blocks.brand_id != command.brand_id
        or command.prefix not in blocks.blocked
    ):
        raise NotFound(f"no blocked prefix {command.prefix}")
    blocks.lift(command.prefix, actor=command.actor, at=now)
    return cmd.Outcome(changed=True, brand_id=command.brand_id), [blocks]


def grant(loader: Loader, command: cmd.GrantConsent, now: datetime) -> Handled:
    return _change(loader, command, now, granted=True)


def revoke(loader: Loader, command: cmd.RevokeConsent, now: datetime) -> Handled:
    return _change(loader, command, now, granted=False)


def _change(loader: Loader, command: cmd.ChangeConsent, now: datetime, *, granted: bool) -> Handled:
    contact, registered = _contact(loader, command, now)
    ledger = ledger_for(loader, command.brand_id, contact.id, now)
    evidence = Evidence(
        source=command.source,
        text=command.text,
        channel=command.channel,
        address=command.address or "",
        actor=command.actor,
        collected_at=command.collected_at,
        reference=command.reference,
    )
    purpose = Purpose(command.purpose)
    if granted:
        changed = ledger.grant(purpose, evidence, at=now, channel=command.channel)
    else:
        # A channel named: that channel only; none: every channel (the brand-wide default).
        scope = Scope.CHANNEL if command.channel is not None else Scope.ALL_CHANNELS
        changed = ledger.revoke(purpose, evidence, at=now, channel=command.channel, scope=scope)
    outcome = cmd.Outcome(changed=changed, brand_id=command.brand_id, contact_id=contact.id)
    new = [contact, *registered] if registered else []  # a contact met by this change
    return outcome, [*new, ledger] if changed else new


def _contact(
    loader: Loader, command: cmd.ChangeConsent, now: datetime
) -> tuple[Contact, list[Aggregate]]:
    """The contact named by id, or by address (registered when new: an imported row)."""
    if command.contact_id is not None:
        return contact_of(loader, command.brand_id, command.contact_id), []
    assert command.address is not None  # the command names one or the other
    address = parse_address(command.address, default_region=loader.default_region)
    return contact_for(loader, command.brand_id, address, now)


def unsubscribe(loader: Loader, command: cmd.Unsubscribe, now: datetime) -> Handled:
    """An email's unsubscribe link revokes like a STOP on that email: on every channel of
    the brand (the default scope), with the link's request as the evidence. Used twice,
    it records nothing the second time."""
    address = parse_email(command.address, field="token")
    contact = find_contact(loader, command.brand_id, address)
    if contact is None:
        raise NotFound(
            "no contact holds the address this unsubscribe link was sent to", field="token"
        )
    ledger = ledger_for(loader, command.brand_id, contact.id, now)
    evidence = Evidence(
        source=EvidenceSource.UNSUBSCRIBE_LINK,
        text=command.text,
        channel=Channel.EMAIL,
        address=address.value,
        actor="contact",
        rule="list_unsubscribe.one_click",
    )
    changed = ledger.revoke(Purpose(command.purpose), evidence, at=now)
    outcome = cmd.Outcome(changed=changed, brand_id=command.brand_id, contact_id=contact.id)
    return outcome, [ledger] if changed else []
