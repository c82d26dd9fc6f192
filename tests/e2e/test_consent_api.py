"""Consent through the API: a brand records an opt-in or an opt-out with its evidence,
reads the state and the whole history back, and never sees another brand's contacts."""

from __future__ import annotations

import httpx
import pytest

from chainon.api.app import create_app
from chainon.auth import split_api_key
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey, register
from tests.e2e.test_api import assert_problem, inbound

pytestmark = pytest.mark.asyncio


async def contact_of(api: httpx.AsyncClient) -> str:
    return str((await inbound(api, "Bonjour"))["contact_id"])


async def test_an_opt_in_then_an_sms_opt_out_with_their_evidence(
    api: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    contact = await contact_of(api)
    granted = await api.post(
        f"/v1/contacts/{contact}/consent",
        json={"action": "grant", "purpose": "marketing", "note": "newsletter box ticked"},
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["changed"] is True
    again = await api.post(
        f"/v1/contacts/{contact}/consent", json={"action": "grant", "purpose": "marketing"}
    )
    assert again.json()["changed"] is False  # already in force: nothing recorded
    revoked = await api.post(
        f"/v1/contacts/{contact}/consent",
        json={"action": "revoke", "purpose": "marketing", "channel": "sms"},
    )
    assert revoked.json()["changed"] is True

    consent = (await api.get(f"/v1/contacts/{contact}/consent")).json()
    marketing, service = consent["state"]
    assert marketing["purpose"] == "marketing"
    assert marketing["all_channels"] == "granted"
    assert marketing["channels"] == {"sms": "revoked", "rcs": "granted", "email": "granted"}
    assert service == {
        "purpose": "service",
        "all_channels": "none",
        "channels": {"sms": "none", "rcs": "none", "email": "none"},
    }
    first, second = consent["history"]
    assert (first["granted"], first["channel"], second["granted"], second["channel"]) == (
        True,
        None,
        False,
        "sms",
    )
    key_id = split_api_key(brand.key)
    for change in (first, second):
        assert change["evidence"]["source"] == "api"
        assert change["evidence"]["actor"] == f"api_key:{key_id}"
    assert "newsletter box ticked" in first["evidence"]["text"]


async def test_a_contact_who_never_said_anything_has_no_consent(api: httpx.AsyncClient) -> None:
    contact = await contact_of(api)
    consent = (await api.get(f"/v1/contacts/{contact}/consent")).json()
    assert consent["history"] == []
    assert {s["all_channels"] for s in consent["state"]} == {"none"}


async def test_another_brands_contact_is_not_found(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    contact = await contact_of(api)
    other = register(sqlite_runtime, slug="autre-marque", sms="+33939000009")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=sqlite_runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {other.key}"},
    ) as them:
        change = {"action": "revoke", "purpose": "marketing"}
        assert_problem(await them.post(f"/v1/contacts/{contact}/consent", json=change), 404, None)
        assert_problem(await them.get(f"/v1/contacts/{contact}/consent"), 404, None)
    consent = (await api.get(f"/v1/contacts/{contact}/consent")).json()
    assert consent["history"] == []  # nothing recorded by the other brand's attempt


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "grant", "purpose": "conversational"}, "purpose"),
        ({"action": "maybe", "purpose": "marketing"}, "action"),
        ({"action": "grant", "purpose": "marketing", "channel": "fax"}, "channel"),
    ],
)
async def test_a_bad_change_is_refused_naming_its_field(
    api: httpx.AsyncClient, change: dict[str, str], field: str
) -> None:
    contact = await contact_of(api)
    assert_problem(await api.post(f"/v1/contacts/{contact}/consent", json=change), 422, field)


async def test_the_brand_names_where_it_learnt_a_change_but_never_keyword_or_import(
    api: httpx.AsyncClient,
) -> None:
    contact = await contact_of(api)
    for source in ("web_form", "agent"):
        change = {"action": "grant", "purpose": "service", "channel": "email", "source": source}
        if source == "agent":
            change["action"] = "revoke"
        answer = await api.post(f"/v1/contacts/{contact}/consent", json=change)
        assert answer.status_code == 200, answer.text
    for source in ("keyword", "import", "phrase"):
        change = {"action": "grant", "purpose": "marketing", "source": source}
        refused = await api.post(f"/v1/contacts/{contact}/consent", json=change)
        assert_problem(refused, 422, "source")
    history = (await api.get(f"/v1/contacts/{contact}/consent")).json()["history"]
    assert [(c["granted"], c["evidence"]["source"]) for c in history] == [
        (True, "web_form"),
        (False, "agent"),
    ]
