"""``PUT /v1/flows/{name}`` publishes a version (a YAML body), idempotent by hash;
``GET /v1/flows`` lists them, ``GET /v1/flows/{name}`` reads one, an older one too."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.asyncio

FLOWS = ROOT / "examples" / "flows"
YAML = {"Content-Type": "application/yaml"}


def example(name: str) -> str:
    return (FLOWS / f"{name}.yaml").read_text()


async def test_publish_list_and_read_versions(api: httpx.AsyncClient) -> None:
    source = example("csat")
    first = await api.put("/v1/flows/csat", content=source, headers=YAML)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1
    assert len(first.json()["hash"]) == 64

    again = await api.put("/v1/flows/csat", content="# same flow\n" + source, headers=YAML)
    assert again.status_code == 200
    assert again.json() == first.json()  # same canonical document: no new version

    changed = source.replace("max_reprompts: 1", "max_reprompts: 3")
    second = await api.put(
        "/v1/flows/csat", content=changed, headers={"Content-Type": "text/yaml; charset=utf-8"}
    )
    assert second.status_code == 201
    assert second.json()["version"] == 2
    assert second.json()["hash"] != first.json()["hash"]
    await api.put("/v1/flows/delivery-details", content=example("delivery-details"), headers=YAML)

    listed = (await api.get("/v1/flows")).json()["flows"]
    assert [(f["name"], f["version"]) for f in listed] == [("csat", 2), ("delivery-details", 1)]
    assert set(listed[0]) == {"name", "version", "hash", "published_at"}

    latest = (await api.get("/v1/flows/csat")).json()
    assert latest["version"] == 2
    assert latest["document"]["steps"][0]["max_reprompts"] == 3
    older = (await api.get("/v1/flows/csat", params={"version": 1})).json()
    assert older["document"]["steps"][0]["max_reprompts"] == 1
    assert older["hash"] == first.json()["hash"]


async def test_a_broken_flow_is_a_422_naming_line_and_field(api: httpx.AsyncClient) -> None:
    source = example("delivery-details")
    broken = source.replace("        next: new_address\n", "        next: new_adress\n")
    line = source.splitlines().index("        next: new_address") + 1
    refused = await api.put("/v1/flows/delivery-details", content=broken, headers=YAML)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["field"] == "steps[0].branches[0].next"
    assert body["detail"] == f"line {line}: no step is called 'new_adress'"
    assert body["errors"] == [
        {"field": "steps[0].branches[0].next", "message": "no step is called 'new_adress'",
         "line": line}
    ]  # fmt: skip
    assert (await api.get("/v1/flows")).json() == {"flows": []}


async def test_the_name_in_the_path_is_the_documents(api: httpx.AsyncClient) -> None:
    refused = await api.put("/v1/flows/survey", content=example("csat"), headers=YAML)
    assert refused.status_code == 422
    assert refused.json()["field"] == "name"


async def test_a_body_that_is_not_yaml_is_a_415(api: httpx.AsyncClient) -> None:
    refused = await api.put("/v1/flows/csat", json={"name": "csat"})
    assert refused.status_code == 415
    assert "application/yaml" in refused.json()["detail"]


async def test_an_unknown_flow_or_version_is_a_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/flows/csat")).status_code == 404
    await api.put("/v1/flows/csat", content=example("csat"), headers=YAML)
    missing = await api.get("/v1/flows/csat", params={"version": 2})
    assert missing.status_code == 404
    assert missing.json()["field"] == "version"
