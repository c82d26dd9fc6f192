"""Commands about a contact's consent: granted, revoked, or an unsubscribe by address
(one-click links and list-unsubscribe mail, which know no contact id)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from chainon.domain.channels import Channel
from chainon.domain.command_base import Address, Command
from chainon.domain.consent import MAX_EVIDENCE_TEXT, EvidenceSource, Purpose


class ChangeConsent(Command):
    """A brand records a contact's opt-in or opt-out it learnt itself (its web form, a call
    to its support, its API, a CSV it imports), with the evidence that it happened.

    The contact by its id, or by an address (an import's row): a contact Chainon has not
    met yet is registered then, as a send to a new address does."""

    brand_id: UUID
    contact_id: UUID | None = None
    address: Address | None = None
    purpose: Literal[Purpose.MARKETING, Purpose.SERVICE]
    # None: every channel of the brand; a channel when the evidence is for that one only.
    channel: Channel | None = None
    source: EvidenceSource = EvidenceSource.API
    text: Annotated[str, Field(max_length=MAX_EVIDENCE_TEXT)] = ""  # the raw request or words
    actor: Annotated[str, Field(max_length=128)] = ""  # the API key id, the agent, the file
    collected_at: AwareDatetime | None = None  # when the contact said it, if before
    # The evidence's id outside Chainon (an imported row's digest): recorded once.
    reference: Annotated[str, Field(max_length=128)] = ""

    @model_validator(mode="after")
    def _one_contact(self) -> ChangeConsent:
        if (self.contact_id is None) == (self.address is None):
            raise ValueError("name the contact by contact_id or by address, not both")
        return self


class GrantConsent(ChangeConsent):
    type: Literal["GrantConsent"] = "GrantConsent"


class RevokeConsent(ChangeConsent):
    type: Literal["RevokeConsent"] = "RevokeConsent"


class Unsubscribe(Command):
    """A contact used the unsubscribe link of a brand's email (RFC 8058 one-click); its
    signed token named the brand, the address and the purpose. Not a brand's command: the
    HTTP route that checked the token sends it, never the commands topic."""

    type: Literal["Unsubscribe"] = "Unsubscribe"
    brand_id: UUID
    address: Address
    purpose: Literal[Purpose.MARKETING, Purpose.SERVICE] = Purpose.MARKETING
    text: Annotated[str, Field(max_length=MAX_EVIDENCE_TEXT)] = ""  # the raw request
