"""The consent state as a CRM criterion (``consent=marketing:granted``), answered from the
CRM profile read model: in a contact search and in a campaign's filter audience."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.e2e.test_api import assert_problem
from tests.e2e.test_campaigns_api import create

pytestmark = pytest.mark.asyncio


async def contacts(api: httpx.AsyncClient) -> tuple[dict[str, str], int]:
    """ana opted in; bob opted in then out; eve never said; max opted in, then out of SMS
    only (so on email a send is still allowed)."""
    changes: dict[str, list[dict[str, str]]] = {
        "ana": [{"action": "grant"}],
        "bob": [{"action": "grant"}, {"action": "revoke"}],
        "eve": [],
        "max": [{"action": "grant"}, {"action": "revoke", "channel": "sms"}],
    }
    ids, position = {}, 0
    for name, steps in changes.items():
        sent = await api.post("/v1/messages", json={"to": f"{name}@example.org", "body": "x"})
        assert sent.status_code == 202, sent.text
        contact = sent.json()["contact_id"]
        ids[name] = contact
        position = max(position, sent.json()["position"])
        for step in steps:
            change = {"purpose": "marketing", **step}
            answer = await api.post(f"/v1/contacts/{contact}/consent", json=change)
            assert answer.status_code == 200, answer.text
            position = max(position, answer.json()["position"])
    return ids, position


async def test_a_search_by_consent_picks_exactly_the_contacts_in_that_state(
    api: httpx.AsyncClient,
) -> None:
    ids, position = await contacts(api)
    by_id = {v: k for k, v in ids.items()}

    async def found(consent: str) -> set[str]:
        params: dict[str, Any] = {"consent": consent, "min_position": position}
        page = (await api.get("/v1/contacts/search", params=params)).json()
        assert page["caught_up"] is True
        return {by_id[item["contact_id"]] for item in page["items"]}

    assert await found("marketing:granted") == {"ana"}
    assert await found("marketing:granted:email") == {"ana", "max"}
    assert await found("marketing:revoked") == {"bob", "max"}
    assert await found("marketing:revoked:sms") == {"bob", "max"}
    assert await found("marketing:none") == {"eve"}
    assert await found("service:none") == {"ana", "bob", "eve", "max"}
    profiles = {
        name: (await api.get(f"/v1/contacts/{contact}/profile")).json()
        for name, contact in ids.items()
    }
    assert {n: p["marketing_consent"] for n, p in profiles.items()} == {
        "ana": True,
        "bob": False,
        "eve": None,
        "max": False,
    }
    assert profiles["ana"]["service_consent"] is None


@pytest.mark.parametrize(
    "bad", ["marketing", "marketing:maybe", "sales:granted", "marketing:none:fax"]
)
async def test_a_bad_consent_criterion_is_refused_naming_the_field(
    api: httpx.AsyncClient, bad: str
) -> None:
    assert_problem(await api.get("/v1/contacts/search", params={"consent": bad}), 422, "consent")
    refused = await api.post(
        "/v1/campaigns",
        json={"name": "x", "template": "hi", "audience": "filter", "filter": {"consent": bad}},
    )
    assert_problem(refused, 422, "filter.consent")


async def test_a_campaign_filtered_on_consent_reaches_exactly_the_opted_in(
    api: httpx.AsyncClient,
) -> None:
    await contacts(api)
    campaign = await create(
        api, audience="filter", filter={"consent": "marketing:granted"}, template="Bonjour"
    )
    assert campaign["filter"]["consent"] == "marketing:granted"
    wanted = {"ana@example.org", "max@example.org"}  # on email, the campaign's channel
    for _ in range(100):  # the CRM projection catches up with the writes
        dry = (await api.post(f"/v1/campaigns/{campaign['id']}/dry-run")).json()
        if dry["recipients"] == len(wanted):
            break
        await asyncio.sleep(0.05)
    assert {s["to"] for s in dry["sample"]} == wanted
    assert dry["blocked"] == []
