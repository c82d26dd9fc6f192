"""The OpenAPI document tells what the API answers, errors and limits included, and its docs
pages work with no network: what a generated client, a fuzzer or a firewalled operator sees."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema
import pytest

from chainon.domain.brand import (
    MAX_AGENT_CAPACITY,
    MAX_FALLBACK_SECONDS,
    MAX_FIRST_RESPONSE_MINUTES,
    MIN_FALLBACK_SECONDS,
)
from chainon.domain.conversation import MAX_PRIORITY
from chainon.domain.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS

pytestmark = pytest.mark.asyncio

PROBLEM = "application/problem+json"
ERRORS = ("400", "401", "404", "409", "413", "422", "429")
METHODS = {"get", "post", "put", "patch", "delete"}


async def document(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_operation_declares_its_errors_as_problem_json(
    api: httpx.AsyncClient,
) -> None:
    doc = await document(api)
    found = operations(doc)
    assert len(found) > 25
    for method, path, operation in found:
        for status in ERRORS:
            response = operation["responses"].get(status)
            assert response is not None, (method, path, status)
            assert response["description"]
            assert response["content"] == {
                PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (method, path, status)
    schemas = doc["components"]["schemas"]
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])
    assert {"field", "errors"} <= set(schemas["Problem"]["properties"])
    assert "HTTPValidationError" not in schemas  # FastAPI's own 422 shape, which we never send
    assert doc["paths"]["/v1/messages"]["post"]["responses"]["429"]["headers"]["Retry-After"]


def problem_schema(doc: dict[str, Any]) -> dict[str, Any]:
    """The Problem schema with its references resolved inside this document."""
    return {**doc["components"]["schemas"]["Problem"], "components": doc["components"]}


async def test_the_errors_the_api_answers_match_the_declared_problem(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    doc = await document(api)
    schema = problem_schema(doc)
    opened = await api.post(
        "/v1/sandbox/inbound", json={"from": "0612345678", "to": BRAND_SMS, "body": "Bonjour"}
    )
    cid = opened.json()["conversation_id"]
    limit = sqlite_runtime.settings.max_request_bytes
    answers = {
        "401": await api.get("/v1/conversations", headers={"Authorization": ""}),
        "404": await api.get("/v1/conversations/00000000-0000-0000-0000-000000000000"),
        "409": await api.post(f"/v1/conversations/{cid}/reopen"),
        "413": await api.post("/v1/messages", content=b" " * (limit + 1)),
        "422": await api.post("/v1/messages", json={"to": "x", "body": "", "tags": 1}),
        "422 JSON": await api.post(
            "/v1/messages", content=b"{", headers={"content-type": "application/json"}
        ),
    }
    for name, response in answers.items():
        assert str(response.status_code) == name.split()[0], response.text
        assert response.headers["content-type"] == PROBLEM
        jsonschema.validate(response.json(), schema)


def constraints(schema: dict[str, Any]) -> dict[str, Any]:
    """The number's or string's own bounds, under a nullable ``anyOf`` too."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") in {"integer", "string"}:
            keys = ("minimum", "maximum", "minLength", "maxLength", "pattern")
            return {k: branch[k] for k in keys if k in branch}
    raise AssertionError(schema)


async def test_the_numeric_and_length_limits_are_schema_constraints(
    api: httpx.AsyncClient,
) -> None:
    schemas = (await document(api))["components"]["schemas"]
    fallback = {"minimum": MIN_FALLBACK_SECONDS, "maximum": MAX_FALLBACK_SECONDS}
    for model, field, bounds in [
        ("SendIn", "fallback_after_seconds", fallback),
        ("FallbackSettingsIn", "fallback_after_seconds", fallback),
        ("QueueSettingsIn", "first_response_minutes", {"minimum": 1, "maximum": 10080}),
        ("CapacityIn", "capacity", {"minimum": 0, "maximum": 1000}),
        ("PriorityIn", "priority", {"minimum": 0, "maximum": 3}),
    ]:
        assert constraints(schemas[model]["properties"][field]) == bounds, (model, field)
    assert (MAX_FIRST_RESPONSE_MINUTES, MAX_AGENT_CAPACITY, MAX_PRIORITY) == (10080, 1000, 3)


async def test_every_write_that_takes_an_idempotency_key_declares_its_bounds(
    api: httpx.AsyncClient,
) -> None:
    doc = await document(api)
    keyed = set()
    for method, path, operation in operations(doc):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                assert parameter["in"] == "header"
                assert constraints(parameter["schema"]) == {
                    "minLength": 1,
                    "maxLength": MAX_KEY_LENGTH,
                    "pattern": KEY_PATTERN,
                }
                keyed.add((method, path))
    assert {
        ("post", "/v1/messages"),
        ("post", "/v1/conversations/{conversation_id}/messages"),
        ("patch", "/v1/contacts/{contact_id}"),
        ("put", "/v1/fallback/settings"),
        ("put", "/v1/queue/settings"),
        ("put", "/v1/agents/{agent}"),
    } <= keyed
    assert all(method != "get" for method, _ in keyed)


async def test_metrics_are_declared_and_served_as_text(api: httpx.AsyncClient) -> None:
    declared = (await document(api))["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(declared["content"]) == ["text/plain"]
    served = await api.get("/metrics")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert "chainon_http_requests_total" in served.text


@pytest.mark.parametrize(("page", "script"), [("/docs", "SwaggerUIBundle"), ("/redoc", "Redoc")])
async def test_the_docs_pages_load_everything_from_chainon_itself(
    api: httpx.AsyncClient, page: str, script: str
) -> None:
    html = await api.get(page)
    assert html.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert len(assets) >= 2, html.text
    for asset in assets:
        assert "://" not in asset, asset
        assert not asset.startswith("//"), asset
        loaded = await api.get(asset)
        assert loaded.status_code == 200, asset
        assert len(loaded.content) > 500, asset
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts
    assert script in (await api.get(scripts[0])).text
    assert "/openapi.json" in html.text
