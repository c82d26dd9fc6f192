"""Every list pages with a cursor past its largest page: the conversations, the agent queue
and the contact search take ``cursor`` and answer ``next_cursor`` in one form."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import BRAND_SMS

pytestmark = pytest.mark.asyncio

PROBLEM = "application/problem+json"
PEOPLE = 205  # more than a page can hold (200 contacts, 200 conversations)


async def consumers_write(api: httpx.AsyncClient, count: int) -> int:
    """``count`` consumers each write once; the highest write position."""
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> int:
        payload = {"from": f"+3361200{i:04d}", "to": BRAND_SMS, "body": "Bonjour"}
        async with gate:
            response = await api.post("/v1/sandbox/inbound", json=payload)
        assert response.status_code == 202, response.text
        position: int = response.json()["position"]
        return position

    return max(await asyncio.gather(*(one(i) for i in range(count))))


async def every_page(
    api: httpx.AsyncClient, path: str, position: int, **params: Any
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = {**params, "min_position": position, **({"cursor": cursor} if cursor else {})}
        response = await api.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["caught_up"] is True
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= PEOPLE, "the cursor does not move"


@pytest.mark.parametrize(
    ("path", "limit", "key"),
    [
        ("/v1/conversations", 200, "id"),
        ("/v1/queue", 200, "id"),
        ("/v1/queue", 500, "id"),
        ("/v1/contacts/search", 200, "contact_id"),
    ],
)
async def test_a_list_pages_past_its_largest_page(
    api: httpx.AsyncClient, path: str, limit: int, key: str
) -> None:
    position = await consumers_write(api, PEOPLE)
    pages = await every_page(api, path, position, limit=limit)
    sizes = [len(page) for page in pages]
    assert sizes == ([PEOPLE] if limit >= PEOPLE else [limit, PEOPLE - limit])
    assert len({item[key] for page in pages for item in page}) == PEOPLE


@pytest.mark.parametrize(
    ("path", "key"), [("/v1/queue", "id"), ("/v1/contacts/search", "contact_id")]
)
async def test_small_pages_give_every_row_once_in_the_order_of_one_page(
    api: httpx.AsyncClient, path: str, key: str
) -> None:
    position = await consumers_write(api, 11)
    whole = (await api.get(path, params={"limit": 50, "min_position": position})).json()
    assert whole["next_cursor"] is None
    pages = await every_page(api, path, position, limit=3)
    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert [item[key] for page in pages for item in page] == [i[key] for i in whole["items"]]


async def test_the_queue_pages_by_priority_then_age(api: httpx.AsyncClient) -> None:
    position = await consumers_write(api, 6)
    first = (await api.get("/v1/queue", params={"min_position": position})).json()["items"]
    urgent = first[-1]["id"]  # the youngest: it moves to the front once made urgent
    answer = await api.post(f"/v1/conversations/{urgent}/priority", json={"priority": 3})
    assert answer.status_code in (200, 202), answer.text
    pages = await every_page(api, "/v1/queue", answer.json()["position"], limit=4)
    ids = [item["id"] for page in pages for item in page]
    assert ids == [urgent, *(item["id"] for item in first[:-1])]


@pytest.mark.parametrize("path", ["/v1/queue", "/v1/contacts/search", "/v1/conversations"])
@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "cDo1",  # the conversation list's "p:5": not a cursor of every list
        "cTpub3Q6YS1jdXJzb3I",  # "q:not:a-cursor"
        "Yzp4Og",  # "c:x:"
    ],
)
async def test_a_cursor_this_list_did_not_give_is_a_422_naming_it(
    api: httpx.AsyncClient, path: str, cursor: str
) -> None:
    response = await api.get(path, params={"cursor": cursor})
    if path == "/v1/conversations" and cursor == "cDo1":
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == "cursor"
