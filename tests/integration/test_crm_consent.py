"""The CRM profile's consent, from the Consent ledger's facts, on SQLite and PostgreSQL:
whatever order the ledger's and the contact's facts arrive in, the criterion answers what
a send on each channel would be told."""

from __future__ import annotations

from uuid import UUID, uuid4

from chainon.domain.consent import ConsentCriterion
from chainon.projections import crm_profile as crm
from chainon.projections.crm_profile import CrmProfile, ProfileFilter
from chainon.projections.read_model_store import ReadModelStore
from tests.integration.test_read_model_paging import BRAND, BRAND_ID, Facts, store  # noqa: F401


def ledger(facts: Facts, contact: str, *changes: tuple[bool, str, str | None]) -> None:
    consent = str(uuid4())
    facts("Consent.Opened", consent, 0, brand_id=BRAND, contact_id=contact)
    for granted, purpose, channel in changes:
        kind = "Consent.ConsentGranted" if granted else "Consent.ConsentRevoked"
        facts(kind, consent, 1, purpose=purpose, channel=channel, evidence={"source": "api"})


def test_consent_criteria_on_every_backend(store: ReadModelStore) -> None:  # noqa: F811
    facts = Facts()
    people = {name: str(uuid4()) for name in ("ana", "bob", "eve", "max")}
    ledger(facts, people["ana"], (True, "marketing", None))
    ledger(facts, people["bob"], (True, "marketing", None), (False, "marketing", None))
    ledger(facts, people["max"], (True, "marketing", None), (False, "marketing", "sms"))
    # The contacts' own facts after their ledgers': another partition, another order.
    for contact in people.values():
        registered = {"brand_id": BRAND, "address_kind": "email", "address": contact + "@x.org"}
        facts("Contact.Registered", contact, 2, **registered)
    store.apply(CrmProfile(), facts.all)
    store.apply(CrmProfile(), facts.all)  # a batch delivered twice changes nothing
    names = {v: k for k, v in people.items()}

    def found(text: str) -> set[str]:
        wanted = ProfileFilter(brand_id=BRAND_ID, consent=ConsentCriterion.parse(text))
        return {names[p.contact_id] for p in crm.search(store, wanted)}

    assert found("marketing:granted") == {"ana"}
    assert found("marketing:granted:email") == {"ana", "max"}
    assert found("marketing:revoked:sms") == {"bob", "max"}
    assert found("marketing:revoked:email") == {"bob"}
    assert found("marketing:none") == {"eve"}
    assert found("service:granted") == set()
    max_profile = crm.profile(store, BRAND_ID, UUID(people["max"]))
    assert max_profile is not None
    assert (max_profile.marketing_consent, max_profile.service_consent) == (False, None)
