"""Requests at the edges of HTTP: a body too large or not JSON, a blank idempotency key.

Each is answered with what is wrong in words, and only after the API key was checked: a
caller without a key learns nothing about the request it sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chainon.api.app import create_app
from chainon.runtime import Runtime
from chainon.unit_of_work import ConcurrencyExhausted
from tests.conftest import BRAND_SMS, BrandWithKey
from tests.serving import serving

pytestmark = pytest.mark.asyncio

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
SEND = {"to": "+33612345678", "body": "Bonjour"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    found: dict[str, Any] = response.json()
    assert found["status"] == status
    return found


async def pieces(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    """A body sent chunked: no Content-Length for the limit to read up front."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_chunked_body_over_the_limit_is_413(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    limit = sqlite_runtime.settings.max_request_bytes
    request = api.build_request(
        "POST", "/v1/messages", content=pieces(b" " * (limit + 1)), headers=JSON
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    found = problem(await api.send(request), 413)
    assert found["title"] == "Too large"
    assert found["detail"] == f"the request body is over {limit} bytes"
    assert "field" not in found


async def test_a_chunked_body_over_the_limit_is_413_over_real_http(
    sqlite_runtime: Runtime, brand: BrandWithKey
) -> None:
    limit = sqlite_runtime.settings.max_request_bytes
    async with serving(sqlite_runtime) as server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/v1/messages",
            content=pieces(b" " * (limit * 2)),
            headers={**JSON, "Authorization": f"Bearer {brand.key}"},
        )
    assert problem(response, 413)["detail"] == f"the request body is over {limit} bytes"


async def test_a_chunked_body_within_the_limit_is_read(api: httpx.AsyncClient) -> None:
    body = json.dumps(SEND).encode()
    sent = await api.post("/v1/messages", content=pieces(body, 4), headers=JSON)
    assert sent.status_code == 202, sent.text


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", JSON),
        (b'{"to": "+33612345678", "body": ', JSON),
        (b'{"body": "caf\xe9"}', JSON),  # Latin-1, not UTF-8
        (b'{"to": "+33612345678", "body": "x"}', {}),  # no Content-Type
        (b"[]", JSON),
    ],
)
@pytest.mark.parametrize("authorization", ["", "Bearer chn_000000000000_nope"])
async def test_the_api_key_is_checked_before_the_body_is_read(
    api: httpx.AsyncClient, content: bytes, headers: dict[str, str], authorization: str
) -> None:
    response = await api.post(
        "/v1/messages", content=content, headers={**headers, "Authorization": authorization}
    )
    found = problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "field" not in found


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            b"{not json",
            "the request body is not valid JSON: Expecting property name enclosed "
            "in double quotes (line 1, column 2)",
        ),
        (
            b'{"to": "+33612345678",\n "body": ',
            "the request body is not valid JSON: Expecting value (line 2, column 10)",
        ),
        (b'{"body": "caf\xe9"}', "the request body is not valid JSON: it is not UTF-8 text"),
        (b"[]", "the request body must be a JSON object"),
        (b'"Bonjour"', "the request body must be a JSON object"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_told_in_words(
    api: httpx.AsyncClient, content: bytes, words: str
) -> None:
    found = problem(await api.post("/v1/messages", content=content, headers=JSON), 422)
    assert found["detail"] == words
    assert "field" not in found  # not a character offset, not "body" (the message text)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_not_sent_as_json_says_which_content_type_to_send(
    api: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await api.post(
        "/v1/messages", content=b'{"to": "+33612345678", "body": "x"}', headers=headers
    )
    found = problem(response, 422)
    given = content_type or "none"
    assert found["detail"] == (
        f"the request body must be JSON, sent with Content-Type: application/json (given: {given})"
    )
    assert "field" not in found


async def test_a_missing_body_still_names_the_field_that_is_missing(
    api: httpx.AsyncClient,
) -> None:
    found = problem(await api.post("/v1/messages", json={"body": "x"}), 422)
    assert found["field"] == "to"


async def conversation(api: httpx.AsyncClient) -> str:
    opened = await api.post(
        "/v1/sandbox/inbound", json={"from": "0612345678", "to": BRAND_SMS, "body": "Bonjour"}
    )
    assert opened.status_code == 202, opened.text
    cid: str = opened.json()["conversation_id"]
    return cid


def writes(cid: str, contact_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route that hands the core one command, so that a key can replay its answer."""
    return [
        ("POST", "/v1/messages", SEND),
        ("POST", f"/v1/conversations/{cid}/messages", {"body": "Oui ?"}),
        ("POST", f"/v1/conversations/{cid}/assignment", {"agent": "camille"}),
        ("POST", f"/v1/conversations/{cid}/tags", {"add": ["vip"]}),
        ("POST", f"/v1/conversations/{cid}/priority", {"priority": 2}),
        ("POST", f"/v1/conversations/{cid}/resolve", {}),
        ("POST", f"/v1/conversations/{cid}/reopen", {}),
        ("PATCH", f"/v1/contacts/{contact_id}", {"name": "Claire"}),
        ("POST", f"/v1/contacts/{contact_id}/addresses", {"address": "claire@example.com"}),
        ("PUT", "/v1/queue/settings", {"first_response_minutes": 30}),
        ("PUT", "/v1/agents/camille", {"capacity": 3}),
        ("PUT", "/v1/fallback/settings", {"fallback_after_seconds": 120}),
    ]


@pytest.mark.parametrize("key", ["", " ", "\t", "  padded  "])
async def test_a_blank_idempotency_key_is_refused_on_every_write(
    api: httpx.AsyncClient, key: str
) -> None:
    cid = await conversation(api)
    contact_id = (await api.get(f"/v1/conversations/{cid}")).json()["contact_id"]
    for method, path, body in writes(cid, contact_id):
        response = await api.request(method, path, json=body, headers={"Idempotency-Key": key})
        found = problem(response, 422)
        assert found["field"] == "Idempotency-Key", (method, path)
    after = (await api.get(f"/v1/conversations/{cid}")).json()
    assert [m["body"] for m in after["messages"]] == ["Bonjour"]
    assert after["agent"] is None
    assert after["tags"] == []


async def test_the_settings_routes_replay_an_idempotency_key(api: httpx.AsyncClient) -> None:
    for path, body, other in (
        ("/v1/queue/settings", {"first_response_minutes": 30}, {"first_response_minutes": 31}),
        ("/v1/agents/camille", {"capacity": 3}, {"capacity": 4}),
        ("/v1/fallback/settings", {"fallback_after_seconds": 120}, {"fallback_after_seconds": 90}),
    ):
        key = {"Idempotency-Key": f"settings:{path}"}
        first = await api.put(path, json=body, headers=key)
        again = await api.put(path, json=body, headers=key)
        assert first.status_code == again.status_code == 200, first.text
        assert again.headers["idempotent-replayed"] == "true"
        assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
        reused = await api.put(path, json=other, headers=key)
        assert problem(reused, 422)["field"] == "Idempotency-Key"


async def test_writes_that_keep_racing_are_429_with_retry_after(sqlite_runtime: Runtime) -> None:
    """Every retry of the core lost to concurrent writers: the caller's concurrency, so a
    4xx to retry (declared in the OpenAPI document), not a 5xx that pages an operator."""
    app = create_app(runtime=sqlite_runtime)

    @app.post("/contended")
    async def contended() -> None:
        raise ConcurrencyExhausted("the queue is moving too fast; try again")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://chainon.test"
    ) as client:
        response = await client.post("/contended")
    found = problem(response, 429)
    assert found["detail"] == "the queue is moving too fast; try again"
    assert response.headers["retry-after"] == "1"
