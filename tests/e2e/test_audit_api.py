"""The audit log through the API: each read of personal data, each send, consent change
and key issued or revoked leaves one entry with its actor and the request id its answer
carried; the filters narrow it; another brand never sees it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chainon.api.app import create_app
from chainon.auth import split_api_key
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey, register
from tests.e2e.console_client import consumer_writes, sign_in
from tests.e2e.test_api import assert_problem, inbound

pytestmark = pytest.mark.asyncio


async def entries(api: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    response = await api.get("/v1/audit", params=filters)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def only(found: list[dict[str, Any]], action: str) -> dict[str, Any]:
    matching = [entry for entry in found if entry["action"] == action]
    assert len(matching) == 1, found
    return matching[0]


async def test_each_audited_request_leaves_one_entry_with_its_request_id(
    api: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    actor = f"key:{split_api_key(brand.key)}"
    opened = await inbound(api, "Bonjour, ma commande ?")
    conversation, contact = opened["conversation_id"], opened["contact_id"]
    assert await entries(api) == []  # the consumer writing in is no one's read

    calls = {
        "conversation.read": await api.get(f"/v1/conversations/{conversation}"),
        "contact.read": await api.get(
            f"/v1/contacts/{contact}/profile", params={"min_position": opened["position"]}
        ),
        "reply.sent": await api.post(
            f"/v1/conversations/{conversation}/messages", json={"body": "Elle arrive demain"}
        ),
        "consent.changed": await api.post(
            f"/v1/contacts/{contact}/consent", json={"action": "grant", "purpose": "marketing"}
        ),
        "consent.read": await api.get(f"/v1/contacts/{contact}/consent"),
        "message.sent": await api.post(
            "/v1/messages", json={"to": "+33 6 98 76 54 32", "body": "Votre colis"}
        ),
    }
    subjects = {
        "conversation.read": conversation,
        "contact.read": contact,
        "reply.sent": conversation,
        "consent.changed": contact,
        "consent.read": contact,
        "message.sent": calls["message.sent"].json()["conversation_id"],
    }
    issued = await api.post("/v1/keys", json={"label": "crm export"})
    assert issued.status_code == 201, issued.text
    key_id = issued.json()["id"]
    assert split_api_key(issued.json()["key"]) == key_id
    revoked = await api.delete(f"/v1/keys/{key_id}")
    assert revoked.status_code == 204, revoked.text
    assert_problem(await api.delete(f"/v1/keys/{key_id}"), 409, None)  # already: no entry
    calls |= {"key.issued": issued, "key.revoked": revoked}
    subjects |= {"key.issued": key_id, "key.revoked": key_id}

    found = await entries(api)
    assert len(found) == len(calls)
    assert [entry["id"] for entry in found] == sorted((e["id"] for e in found), reverse=True)
    for action, response in calls.items():
        assert response.status_code < 300, response.text
        entry = only(found, action)
        assert entry["actor"] == actor
        assert entry["subject"] == subjects[action]
        assert entry["request_id"] == response.headers["x-request-id"]
        assert entry["brand_id"] == str(brand.id)
    assert only(found, "consent.changed")["detail"] == {
        "change": "grant",
        "purpose": "marketing",
        "changed": True,
    }
    assert only(found, "key.issued")["detail"] == {"label": "crm export"}
    assert issued.json()["key"] not in str(found)  # the key itself is never recorded


async def test_a_request_id_the_caller_gave_is_the_one_recorded(api: httpx.AsyncClient) -> None:
    opened = await inbound(api)
    read = await api.get(
        f"/v1/conversations/{opened['conversation_id']}", headers={"X-Request-Id": "ticket-4711"}
    )
    assert read.headers["x-request-id"] == "ticket-4711"
    assert only(await entries(api), "conversation.read")["request_id"] == "ticket-4711"


async def test_a_read_refused_with_404_records_nothing(api: httpx.AsyncClient) -> None:
    missing = "6f1c0f4e-8a53-4a7e-9f5c-0b1d2e3f4a5b"
    assert_problem(await api.get(f"/v1/conversations/{missing}"), 404, None)
    assert await entries(api) == []


async def test_the_filters_narrow_the_log(api: httpx.AsyncClient, sqlite_runtime: Runtime) -> None:
    opened = await inbound(api)
    conversation = opened["conversation_id"]
    await api.get(f"/v1/conversations/{conversation}")
    issued = (await api.post("/v1/keys", json={"label": "second"})).json()
    async with client(sqlite_runtime, issued["key"]) as second:
        await second.get(f"/v1/conversations/{conversation}")
    everything = await entries(api)
    assert [e["action"] for e in everything] == [
        "conversation.read",
        "key.issued",
        "conversation.read",
    ]
    by_second = await entries(api, actor=f"key:{issued['id']}")
    assert [(e["action"], e["actor"]) for e in by_second] == [
        ("conversation.read", f"key:{issued['id']}")
    ]
    assert [e["action"] for e in await entries(api, action="key.issued")] == ["key.issued"]

    middle = everything[1]["at"]
    assert [e["id"] for e in await entries(api, **{"from": middle})] == [
        e["id"] for e in everything[:2]
    ]
    assert [e["id"] for e in await entries(api, to=middle)] == [e["id"] for e in everything[1:]]
    assert await entries(api, **{"from": "2000-01-01T00:00:00Z", "to": "2000-01-02"}) == []

    first = await api.get("/v1/audit", params={"limit": 2})
    assert [e["id"] for e in first.json()["items"]] == [e["id"] for e in everything[:2]]
    rest = await api.get("/v1/audit", params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [e["id"] for e in rest.json()["items"]] == [everything[2]["id"]]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "to"),
        ({"action": "conversation.deleted"}, "action"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"actor": ""}, "actor"),
    ],
)
async def test_bad_filters_are_refused_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    assert_problem(await api.get("/v1/audit", params=params), 422, field)


async def test_another_brand_never_sees_the_entries(
    api: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    opened = await inbound(api)
    await api.get(f"/v1/conversations/{opened['conversation_id']}")
    other = register(sqlite_runtime, slug="autre-marque", sms="+33939000009")
    async with client(sqlite_runtime, other.key) as them:
        assert_problem(await them.get(f"/v1/conversations/{opened['conversation_id']}"), 404, None)
        assert await entries(them) == []
        assert await entries(them, actor=f"key:{split_api_key(other.key)}") == []
        assert_problem(await them.delete(f"/v1/keys/{split_api_key(other.key)}x"), 422, "key_id")
        mine = split_api_key(brand.key)
        assert_problem(await them.delete(f"/v1/keys/{mine}"), 404, "key_id")
    assert [e["action"] for e in await entries(api)] == ["conversation.read"]


async def test_the_audit_log_asks_for_a_key(sqlite_runtime: Runtime) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=sqlite_runtime)),
        base_url="http://chainon.test",
    ) as anonymous:
        assert (await anonymous.get("/v1/audit")).status_code == 401


def client(runtime: Runtime, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
    )


async def test_the_console_agent_is_the_actor_of_what_they_read_and_send(
    browser: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    token = await sign_in(browser, brand.key, agent="alice")
    conversation = (await consumer_writes(browser, brand.key, "Bonjour"))["conversation_id"]
    page = await browser.get(f"/console/conversations/{conversation}")
    assert page.status_code == 200
    sent = await browser.post(
        f"/console/conversations/{conversation}/reply", data={"body": "Oui ?", "csrf": token}
    )
    assert sent.status_code == 303, sent.text
    async with client(sqlite_runtime, brand.key) as api:
        found = await entries(api)
    assert [(e["action"], e["actor"], e["subject"]) for e in found] == [
        ("reply.sent", "agent:alice", conversation),
        ("conversation.read", "agent:alice", conversation),
    ]
    assert found[1]["request_id"] == page.headers["x-request-id"]
    assert found[0]["detail"] == {"key_id": split_api_key(brand.key)}
