"""One conversation read a page at a time, and a long conversation costing each message
what a short one does (issue 18, part 4).

The cost is counted, never timed: the events the store hands back while one more
message is recorded, or one page is read, must not grow with the conversation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import StoredEvent

from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, CONSUMER

pytestmark = pytest.mark.asyncio


async def inbound(api: httpx.AsyncClient, k: int) -> dict[str, Any]:
    payload = {"from": CONSUMER, "to": BRAND_SMS, "body": f"message {k}"}
    response = await api.post("/v1/sandbox/inbound", json=payload)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


@contextmanager
def events_read(runtime: Runtime) -> Iterator[list[int]]:
    """Counts the stored events the store's recorder hands back meanwhile."""
    recorder = runtime.core.recorder
    select = recorder.select_events
    count = [0]

    def counted(*args: Any, **kwargs: Any) -> list[StoredEvent]:
        found = select(*args, **kwargs)
        count[0] += len(found)
        return found

    recorder.select_events = counted  # type: ignore[method-assign]
    try:
        yield count
    finally:
        recorder.select_events = select  # type: ignore[method-assign]


async def conversation_of(api: httpx.AsyncClient, messages: int) -> str:
    first = await inbound(api, 0)
    for k in range(1, messages):
        await inbound(api, k)
    return str(first["conversation_id"])


async def pages(api: httpx.AsyncClient, cid: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get(f"/v1/conversations/{cid}", params=query)
        assert response.status_code == 200, response.text
        found.append(response.json())
        cursor = found[-1]["next_cursor"]
        if cursor is None:
            return found


async def test_pages_hold_every_message_and_fact_once_newest_first(
    api: httpx.AsyncClient,
) -> None:
    cid = await conversation_of(api, 23)
    reply = await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Bien reçu"})
    assert reply.status_code == 202, reply.text

    newest = await pages(api, cid, limit=5)
    bodies = [m["body"] for page in newest for m in page["messages"]]
    assert bodies == ["Bien reçu", *(f"message {k}" for k in reversed(range(23)))]
    versions = [e["version"] for page in newest for e in page["timeline"]]
    assert versions == list(range(versions[0], 0, -1))  # each fact once, down to the opening
    assert all(len(page["messages"]) <= 5 and len(page["timeline"]) <= 5 for page in newest)
    assert {page["message_count"] for page in newest} == {24}

    oldest = await pages(api, cid, limit=7, order="oldest")
    assert [m["body"] for page in oldest for m in page["messages"]] == list(reversed(bodies))
    # the reply's delivery may be recorded meanwhile: later facts, each once, in order
    later = [e["version"] for page in oldest for e in page["timeline"]]
    assert later == list(range(1, len(later) + 1))
    assert len(later) >= len(versions)


async def test_a_cursor_this_api_did_not_give_is_refused_naming_it(
    api: httpx.AsyncClient,
) -> None:
    cid = await conversation_of(api, 3)
    first = (await api.get(f"/v1/conversations/{cid}", params={"limit": 1})).json()
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": first["next_cursor"], "order": "oldest"},  # another order's cursor
    ):
        refused = await api.get(f"/v1/conversations/{cid}", params=params)
        assert refused.status_code == 422, refused.text
        assert "cursor" in refused.text


async def test_one_more_message_and_a_page_read_as_few_events_at_120_messages_as_at_3(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    """On main, recording message 120 read the whole conversation back twice (the sandbox
    asks what became of it before and after), and a read returned every message."""
    cid = await conversation_of(api, 3)
    with events_read(sqlite_runtime) as short_message:
        await inbound(api, 3)
    with events_read(sqlite_runtime) as short_page:
        await api.get(f"/v1/conversations/{cid}", params={"limit": 10})
    for k in range(4, 120):
        await inbound(api, k)
    with events_read(sqlite_runtime) as long_message:
        await inbound(api, 120)
    with events_read(sqlite_runtime) as long_page:
        page = (await api.get(f"/v1/conversations/{cid}", params={"limit": 10})).json()

    assert page["message_count"] == 121
    assert long_message[0] <= short_message[0] + 2
    assert long_page[0] <= 10
    assert short_page[0] <= 10
