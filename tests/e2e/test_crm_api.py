"""The CRM profile through the API: counts, tags, attributes, search."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chainon.api.app import create_app
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey, register


@pytest.fixture
async def api(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    brand: BrandWithKey = register(sqlite_runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=sqlite_runtime)),
        base_url="http://t",
        headers={"Authorization": f"Bearer {brand.key}"},
    ) as client:
        yield client


async def write(api: httpx.AsyncClient, method: str, path: str, **kw: Any) -> dict[str, Any]:
    response = await api.request(method, path, **kw)
    assert response.status_code in (200, 202), response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_profile_counts_channels_and_carries_tags_and_attributes(
    api: httpx.AsyncClient,
) -> None:
    first = await write(
        api,
        "POST",
        "/v1/sandbox/inbound",
        json={"from": "0612345678", "to": BRAND_SMS, "body": "Bonjour"},
    )
    await write(
        api,
        "POST",
        "/v1/sandbox/inbound",
        json={"from": "0612345678", "to": BRAND_SMS, "body": "Allô ?"},
    )
    cid, contact = first["conversation_id"], first["contact_id"]
    await write(api, "POST", f"/v1/conversations/{cid}/messages", json={"body": "Oui ?"})
    await write(api, "POST", f"/v1/conversations/{cid}/assignment", json={"agent": "camille"})
    await write(api, "POST", f"/v1/conversations/{cid}/tags", json={"add": ["VIP"]})
    last = await write(
        api,
        "PATCH",
        f"/v1/contacts/{contact}",
        json={"name": "Camille Martin", "attributes": {"tier": "gold"}},
    )

    response = await api.get(
        f"/v1/contacts/{contact}/profile", params={"min_position": last["position"]}
    )
    profile = response.json()
    assert profile["name"] == "Camille Martin"
    assert profile["addresses"] == [{"kind": "phone", "value": "+33612345678"}]
    assert profile["messages"] == [
        {"channel": "sms", "direction": "inbound", "count": 2},
        {"channel": "sms", "direction": "outbound", "count": 1},
    ]
    assert (profile["last_agent"], profile["tags"], profile["attributes"]) == (
        "camille",
        ["vip"],
        {"tier": "gold"},
    )
    assert profile["conversation_count"] == 1
    assert profile["last_channel"] == "sms"
    assert profile["rcs_capable"] is None
    assert profile["marketing_consent"] is None

    cleared = await write(
        api, "PATCH", f"/v1/contacts/{contact}", json={"attributes": {"tier": None}}
    )
    profile = (
        await api.get(
            f"/v1/contacts/{contact}/profile", params={"min_position": cleared["position"]}
        )
    ).json()
    assert profile["attributes"] == {}
    assert profile["name"] == "Camille Martin"


async def test_search_by_address_name_tag_and_attribute(api: httpx.AsyncClient) -> None:
    a = await write(
        api,
        "POST",
        "/v1/sandbox/inbound",
        json={"from": "0612345678", "to": BRAND_SMS, "body": "a"},
    )
    b = await write(
        api,
        "POST",
        "/v1/sandbox/inbound",
        json={"from": "0698765432", "to": BRAND_SMS, "body": "b"},
    )
    await write(api, "PATCH", f"/v1/contacts/{a['contact_id']}", json={"name": "Léa Dubois"})
    last = await write(
        api,
        "PATCH",
        f"/v1/contacts/{b['contact_id']}",
        json={"name": "Hugo", "attributes": {"city": "Lyon"}},
    )
    wait = {"min_position": last["position"]}

    async def found(**params: str) -> list[str]:
        page = (await api.get("/v1/contacts/search", params={**params, **wait})).json()
        assert page["caught_up"] is True
        return [item["contact_id"] for item in page["items"]]

    assert await found(address="+33 6 12 34 56 78") == [a["contact_id"]]
    assert await found(name="léa") == [a["contact_id"]]
    assert await found(attribute="city:Lyon") == [b["contact_id"]]
    assert await found(attribute="city:Paris") == []
    assert sorted(await found()) == sorted([a["contact_id"], b["contact_id"]])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"attribute": "nocolon"}, "attribute"),
        ({"address": "+33 12"}, "address"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_bad_searches_name_the_field(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await api.get("/v1/contacts/search", params=params)
    assert response.status_code == 422
    assert response.json()["field"] == field


async def test_bad_attribute_keys_are_refused(api: httpx.AsyncClient) -> None:
    first = await write(
        api,
        "POST",
        "/v1/sandbox/inbound",
        json={"from": "0612345678", "to": BRAND_SMS, "body": "a"},
    )
    response = await api.patch(
        f"/v1/contacts/{first['contact_id']}", json={"attributes": {"Bad Key!": "x"}}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "attributes.Bad Key!"
