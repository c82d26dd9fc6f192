"""C0 control characters in free text are refused at the API, naming the field, on both stores.

PostgreSQL's text cannot hold NUL: accepted, it would fail there (or be kept on SQLite and
fail on the day the data moves). Tab, CR and LF are text: a message keeps them as sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from chainon.api.app import create_app
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, make_settings, register

pytestmark = pytest.mark.asyncio

CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f"]


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(StoreKind.SQLITE, tmp_path)
    dsn: str = request.getfixturevalue("postgres_dsn")
    return make_settings(StoreKind.POSTGRES, tmp_path, dsn)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(settings)
    await runtime.start()
    try:
        key = register(runtime).key
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
            base_url="http://chainon.test",
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            yield client
    finally:
        await runtime.stop()
        runtime.close()


def refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field, problem
    assert "control characters" in problem["detail"]


async def opened(api: httpx.AsyncClient, body: str = "Bonjour") -> dict[str, Any]:
    response = await api.post(
        "/v1/sandbox/inbound", json={"from": "0612345678", "to": BRAND_SMS, "body": body}
    )
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize("control", CONTROLS)
async def test_control_characters_are_refused_in_every_free_text_field(
    api: httpx.AsyncClient, control: str
) -> None:
    first = await opened(api)
    cid, contact_id = first["conversation_id"], first["contact_id"]
    bad = f"a{control}b"
    conversation = f"/v1/conversations/{cid}"
    for method, path, body, field in [
        ("POST", "/v1/messages", {"to": "+33612345678", "body": bad}, "body"),
        ("POST", "/v1/messages", {"to": f"claire{control}@example.com", "body": "x"}, "to"),
        ("POST", "/v1/messages", {"to": "+33612345678", "rich": {"text": bad}}, "rich.text"),
        (
            "POST",
            "/v1/messages",
            {
                "to": "+33612345678",
                "rich": {
                    "text": "?",
                    "suggestions": [{"kind": "reply", "text": bad, "postback_data": "x"}],
                },
            },
            "rich.suggestions[0].text",
        ),
        ("POST", f"{conversation}/messages", {"body": bad}, "body"),
        ("POST", f"{conversation}/tags", {"add": ["vip", bad]}, "add[1]"),
        ("POST", f"{conversation}/assignment", {"agent": bad}, "agent"),
        ("POST", f"{conversation}/assignment", {"team": bad}, "team"),
        ("POST", f"{conversation}/resolve", {"by": bad}, "by"),
        ("POST", "/v1/queue/next", {"agent": bad}, "agent"),
        ("PATCH", f"/v1/contacts/{contact_id}", {"name": bad}, "name"),
        ("PATCH", f"/v1/contacts/{contact_id}", {"attributes": {"tier": bad}}, "attributes.tier"),
        ("PATCH", f"/v1/contacts/{contact_id}", {"attributes": {bad: "gold"}}, "attributes"),
        ("POST", f"/v1/contacts/{contact_id}/addresses", {"address": bad}, "address"),
        (
            "POST",
            "/v1/sandbox/inbound",
            {"from": "0612345678", "to": BRAND_SMS, "body": bad},
            "body",
        ),
        ("PUT", f"/v1/agents/{quote(bad)}", {"capacity": 2}, "agent"),
    ]:
        refused(await api.request(method, path, json=body), field)
    for path, params, field in [
        ("/v1/conversations", {"tag": bad}, "tag"),
        ("/v1/conversations", {"agent": bad}, "agent"),
        ("/v1/queue", {"team": bad}, "team"),
        ("/v1/contacts/search", {"name": bad}, "name"),
        ("/v1/contacts", {"address": bad}, "address"),
    ]:
        refused(await api.get(path, params=params), field)

    after = (await api.get(conversation)).json()
    assert [m["body"] for m in after["messages"]] == ["Bonjour"]
    assert (after["agent"], after["team"], after["tags"], after["status"]) == (
        None,
        None,
        [],
        "open",
    )
    profile = await api.get(
        f"/v1/contacts/{contact_id}/profile", params={"min_position": first["position"]}
    )
    assert profile.status_code == 200, profile.text
    assert (profile.json()["name"], profile.json()["attributes"]) == (None, {})


async def test_tab_cr_and_lf_are_text(api: httpx.AsyncClient) -> None:
    body = "Bonjour,\r\n\tvotre commande est partie.\nÀ bientôt"
    first = await opened(api, body)
    cid = first["conversation_id"]
    reply = await api.post(f"/v1/conversations/{cid}/messages", json={"body": body})
    assert reply.status_code == 202, reply.text
    tagged = await api.post(f"/v1/conversations/{cid}/tags", json={"add": ["suivi\tcolis"]})
    assert tagged.status_code == 200, tagged.text
    named = await api.patch(f"/v1/contacts/{first['contact_id']}", json={"name": "Claire\tM."})
    assert named.status_code == 200, named.text
    conversation = (await api.get(f"/v1/conversations/{cid}")).json()
    assert [m["body"] for m in conversation["messages"]] == [body, body]
    assert conversation["tags"] == ["suivi colis"]  # a tag's spaces are folded, as ever
    profile = await api.get(
        f"/v1/contacts/{first['contact_id']}/profile",
        params={"min_position": named.json()["position"]},
    )
    assert profile.json()["name"] == "Claire M."
