"""The agent queue through the HTTP API: claims under concurrency, capacity, filters, SSE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from chainon.api import queue_stream
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey
from tests.serving import serving

pytestmark = pytest.mark.asyncio

PROBLEM = "application/problem+json"


async def inbound(api: httpx.AsyncClient, sender: str) -> dict[str, Any]:
    payload = {"from": sender, "to": BRAND_SMS, "body": "Bonjour"}
    response = await api.post("/v1/sandbox/inbound", json=payload)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


async def waiting_ids(api: httpx.AsyncClient, position: int, **params: Any) -> list[str]:
    page = (await api.get("/v1/queue", params={"min_position": position, **params})).json()
    assert page["caught_up"] is True
    return [item["id"] for item in page["items"]]


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    return body


async def test_ten_agents_at_once_never_get_the_same_conversation(api: httpx.AsyncClient) -> None:
    written = [await inbound(api, f"+3361234500{i}") for i in range(5)]
    assert len(await waiting_ids(api, max(w["position"] for w in written))) == 5

    names = [f"agent-{i}" for i in range(10)]
    answers = await asyncio.gather(
        *(api.post("/v1/queue/next", json={"agent": name}) for name in names)
    )

    taken = {}
    for name, answer in zip(names, answers, strict=True):
        if answer.status_code == 200:
            conversation = answer.json()["conversation"]
            assert conversation["agent"] == name
            taken[conversation["id"]] = name
        else:
            assert problem(answer, 404)["detail"] == "nothing waiting"
    assert sorted(taken) == sorted(w["conversation_id"] for w in written)
    for conversation_id, name in taken.items():  # the core agrees with every answer
        assert (await api.get(f"/v1/conversations/{conversation_id}")).json()["agent"] == name
    loads = (await api.get("/v1/agents")).json()["items"]
    assert sorted((a["agent"], a["open"]) for a in loads) == sorted((n, 1) for n in taken.values())
    # Each claim waited for the views: the queue already shows who has what.
    page = (await api.get("/v1/queue")).json()
    assert {i["id"]: i["agent"] for i in page["items"]} == taken


async def test_an_agent_at_capacity_gets_409(api: httpx.AsyncClient) -> None:
    capacity = await api.put("/v1/agents/camille", json={"capacity": 1})
    assert capacity.status_code == 200, capacity.text
    first, second = [await inbound(api, f"+3361234501{i}") for i in range(2)]
    await waiting_ids(api, max(capacity.json()["position"], second["position"]))

    taken = await api.post("/v1/queue/next", json={"agent": "camille"})
    assert taken.status_code == 200, taken.text
    conversation = taken.json()["conversation"]
    assert conversation["id"] == first["conversation_id"]  # the longest waiting
    assert conversation["contact_id"] == first["contact_id"]
    assert conversation["waiting_since"] is not None
    assert conversation["sla_due_at"] is not None

    full = problem(await api.post("/v1/queue/next", json={"agent": "camille"}), 409)
    assert (full["detail"], full["field"]) == ("agent at capacity (1/1)", "agent")
    agents = (await api.get("/v1/agents")).json()["items"]
    assert agents == [{"agent": "camille", "capacity": 1, "open": 1, "role": None, "teams": []}]

    off = await api.put("/v1/agents/louis", json={"capacity": 0})
    await waiting_ids(api, off.json()["position"])
    assert problem(await api.post("/v1/queue/next", json={"agent": "louis"}), 409)["detail"] == (
        "agent at capacity (0/0)"
    )
    assert problem(await api.put("/v1/agents/louis", json={"capacity": -1}), 422)["field"] == (
        "capacity"
    )


async def test_teams_filter_the_queue_and_the_next_conversation(api: httpx.AsyncClient) -> None:
    a, b, c = [(await inbound(api, f"+3361234502{i}"))["conversation_id"] for i in range(3)]
    for cid, team in ((a, "billing"), (b, "support")):
        routed = await api.post(f"/v1/conversations/{cid}/assignment", json={"team": team})
        assert routed.status_code == 200, routed.text
    position = routed.json()["position"]
    assert await waiting_ids(api, position, team="billing") == [a]
    assert await waiting_ids(api, position) == [a, b, c]

    taken = await api.post("/v1/queue/next", json={"agent": "zoe", "team": "support"})
    assert taken.json()["conversation"]["id"] == b
    assert taken.json()["conversation"]["team"] == "support"
    none_left = await api.post("/v1/queue/next", json={"agent": "zoe", "team": "support"})
    assert problem(none_left, 404)["detail"] == "nothing waiting for team support"
    # Still unanswered, so still waiting, now with zoe.
    assert await waiting_ids(api, taken.json()["position"], agent="zoe") == [b]


async def test_priority_and_sla_settings(api: httpx.AsyncClient) -> None:
    a, b = [(await inbound(api, f"+3361234503{i}"))["conversation_id"] for i in range(2)]
    urgent = await api.post(f"/v1/conversations/{b}/priority", json={"priority": 2})
    assert urgent.status_code == 200, urgent.text
    page = (await api.get("/v1/queue", params={"min_position": urgent.json()["position"]})).json()
    assert [(i["id"], i["priority"]) for i in page["items"]] == [(b, 2), (a, 0)]
    for item in page["items"]:
        assert item["breached"] is False
        assert item["age_seconds"] >= 0
        due = datetime.fromisoformat(item["sla_due_at"])
        assert due - datetime.fromisoformat(item["waiting_since"]) == timedelta(minutes=60)

    settings = await api.put("/v1/queue/settings", json={"first_response_minutes": 30})
    assert settings.status_code == 200, settings.text
    page = (await api.get("/v1/queue", params={"min_position": settings.json()["position"]})).json()
    for item in page["items"]:
        due = datetime.fromisoformat(item["sla_due_at"])
        assert due - datetime.fromisoformat(item["waiting_since"]) == timedelta(minutes=30)
    assert await waiting_ids(api, 0, breached="true") == []
    assert await waiting_ids(api, 0, breached="false") == [b, a]

    bad = problem(await api.post(f"/v1/conversations/{a}/priority", json={"priority": 7}), 422)
    assert bad["field"] == "priority"
    bad = problem(await api.put("/v1/queue/settings", json={"first_response_minutes": 0}), 422)
    assert bad["field"] == "first_response_minutes"


# Server-sent events, over real HTTP: httpx's ASGI transport buffers a whole response, so
# it cannot read a stream that never ends; an in-process uvicorn serves the same app.


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def served(sqlite_runtime: Runtime, brand: BrandWithKey) -> AsyncIterator[Served]:
    async with serving(sqlite_runtime) as running:
        yield Served(running.url, running.server, {"Authorization": f"Bearer {brand.key}"})


@dataclass
class Event:
    event: str
    id: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [item["id"] for item in self.data.get("items", [])]


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield Event("comment", data={"text": line[1:].strip()})
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            yield Event(fields.get("event", ""), fields.get("id", ""), json.loads(fields["data"]))
            fields = {}


async def first(stream: AsyncIterator[Event], wanted: Callable[[Event], bool]) -> Event:
    async with asyncio.timeout(10):
        async for event in stream:
            if wanted(event):
                return event
    raise AssertionError("the stream ended")


async def test_the_queue_streams_a_snapshot_then_changes(
    served: Served, api: httpx.AsyncClient
) -> None:
    before = await inbound(api, "+33612345040")
    await waiting_ids(api, before["position"])
    async with httpx.AsyncClient(base_url=served.url, headers=served.headers, trust_env=False) as c:
        async with c.stream("GET", "/v1/queue/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            snapshot = await first(stream, lambda e: e.event != "comment")
            assert snapshot.event == "queue.snapshot"
            assert snapshot.ids == [before["conversation_id"]]
            assert snapshot.data["items"][0]["breached"] is False

            after = await inbound(api, "+33612345041")
            changed = await first(stream, lambda e: after["conversation_id"] in e.ids)
            assert changed.event == "queue.changed"
            assert int(changed.id) > int(snapshot.id)

        # Coming back with Last-Event-ID: what changed since, not a new snapshot.
        resume = {"Last-Event-ID": snapshot.id}
        async with c.stream("GET", "/v1/queue/stream", headers=resume) as response:
            missed = await first(events(response), lambda e: e.event != "comment")
            assert missed.event == "queue.changed"
            assert after["conversation_id"] in missed.ids


async def test_the_stream_beats_while_quiet_and_stops_with_the_client(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_stream, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(queue_stream, "POLL_SECONDS", 0.05)
    client = httpx.AsyncClient(base_url=served.url, headers=served.headers, trust_env=False)
    async with client, client.stream("GET", "/v1/queue/stream") as response:
        stream = events(response)
        assert (await first(stream, lambda e: True)).event == "queue.snapshot"
        beat = await first(stream, lambda e: True)
        assert (beat.event, beat.data) == ("comment", {"text": "heartbeat"})
    # The response's task ends once the client has gone.
    await eventually(lambda: not served.server.server_state.tasks)
