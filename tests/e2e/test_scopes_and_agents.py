"""Keys, roles and agents (issue 20): a key may call only the routes of its scopes (403
naming the one it lacks), a key issued before scopes is admin, and an agent sees and acts
on its teams' conversations only while a supervisor sees them all."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from eventsourcing.persistence import StoredEvent

from chainon.api.app import create_app
from chainon.auth import hash_api_key
from chainon.domain import ids
from chainon.domain.index import IndexEntry, IndexKind
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import BRAND_SMS, BrandWithKey, make_settings
from tests.e2e.conftest import Run, api_key, refused
from tests.e2e.console_client import hidden_csrf, sign_in

PROBLEM = "application/problem+json"


def client(runtime: Runtime, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
    )


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    return body


async def conversation_of_team(api: httpx.AsyncClient, sender: str, team: str) -> tuple[str, int]:
    """A conversation waiting in the queue, routed to ``team``: its id and write position."""
    written = await api.post(
        "/v1/sandbox/inbound", json={"from": sender, "to": BRAND_SMS, "body": "Bonjour"}
    )
    assert written.status_code == 202, written.text
    conversation_id = written.json()["conversation_id"]
    routed = await api.post(f"/v1/conversations/{conversation_id}/assignment", json={"team": team})
    assert routed.status_code == 200, routed.text
    return conversation_id, routed.json()["position"]


async def enroll(api: httpx.AsyncClient, name: str, role: str, teams: list[str]) -> str:
    answer = await api.post("/v1/agents", json={"name": name, "role": role, "teams": teams})
    assert answer.status_code == 201, answer.text
    assert answer.json()["agent"] == {"name": name, "role": role, "teams": teams}
    key: str = answer.json()["key"]
    return key


@pytest.mark.asyncio
async def test_a_send_only_key_sends_but_may_not_read(
    sqlite_runtime: Runtime, brand: BrandWithKey
) -> None:
    key = sqlite_runtime.core.api_keys.issue(brand.id, "ci", scopes=("messages:send",))
    async with client(sqlite_runtime, key) as api:
        sent = await api.post("/v1/messages", json={"to": "+33612345678", "body": "Votre colis"})
        assert sent.status_code == 202, sent.text

        listed = problem(await api.get("/v1/conversations"), 403)
        assert listed["scope"] == "conversations:read"
        assert "conversations:read" in listed["detail"]
        assert problem(await api.get("/v1/agents"), 403)["scope"] == "admin"
        # another key of the brand, issued with every scope, is not narrowed by it
    async with client(sqlite_runtime, brand.key) as admin:
        assert (await admin.get("/v1/conversations")).status_code == 200


@pytest.mark.asyncio
async def test_a_key_issued_before_scopes_is_admin(tmp_path: Path) -> None:
    """Exactly what v2 wrote (an expiry, no scopes): it loads as an admin key."""
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        brand_id = ids.brand_id("acme")
        key = "chn_0123456789ab_secret-of-an-old-key"
        when = {"_type_": "datetime_iso", "_data_": datetime(2026, 3, 2, tzinfo=UTC).isoformat()}
        events = [
            (
                "chainon:Brand.Registered",
                {
                    "originator_topic": "chainon:Brand",
                    "slug": "acme",
                    "name": "Acme",
                    "help_text": "",
                    "channel_order": ["rcs", "sms", "email"],
                    "reopen_window_hours": 168,
                    "smart_encoding": False,
                },
            ),
            (
                "chainon:Brand.ApiKeyIssued",
                {
                    "class_version": 2,
                    "key_id": "0123456789ab",
                    "key_hash": hash_api_key(key),
                    "label": "old",
                    "expires_at": None,
                },
            ),
        ]
        runtime.core.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=brand_id,
                    originator_version=n,
                    topic=topic,
                    state=json.dumps({"timestamp": when, **state}).encode(),
                )
                for n, (topic, state) in enumerate(events, start=1)
            ]
        )
        at = datetime.now(UTC)
        runtime.core.save(IndexEntry.claim(IndexKind.API_KEY, "0123456789ab", brand_id, at=at))
        brand = runtime.core.api_keys.authenticate(key)
        assert brand is not None
        assert [s.value for s in brand.principal_of("0123456789ab").scopes] == ["admin"]
        async with client(runtime, key) as old:
            settings = await old.get("/v1/consent/settings")  # an admin route
            assert settings.status_code == 200, settings.text
    finally:
        runtime.close()


@pytest.mark.asyncio
async def test_an_agent_sees_and_acts_on_its_teams_conversations_only(
    sqlite_runtime: Runtime, api: httpx.AsyncClient
) -> None:
    ours, _ = await conversation_of_team(api, "+33612345001", "delivery")
    theirs, position = await conversation_of_team(api, "+33612345002", "billing")
    camille = await enroll(api, "camille", "agent", ["delivery"])
    sam = await enroll(api, "sam", "supervisor", [])
    fresh = {"min_position": position}

    async with client(sqlite_runtime, camille) as agent:
        listed = (await agent.get("/v1/conversations", params=fresh)).json()
        assert [c["id"] for c in listed["items"]] == [ours]
        asked = await agent.get("/v1/conversations", params={**fresh, "team": "billing"})
        assert asked.json()["items"] == []
        queue = (await agent.get("/v1/queue", params=fresh)).json()
        assert [i["id"] for i in queue["items"]] == [ours]

        assert (await agent.get(f"/v1/conversations/{ours}")).status_code == 200
        hidden = problem(await agent.get(f"/v1/conversations/{theirs}"), 404)
        missing = problem(await agent.get(f"/v1/conversations/{UUID(int=7)}"), 404)
        assert hidden["detail"] == f"no conversation {theirs}"
        assert hidden.keys() == missing.keys()

        reply = {"body": "Je regarde"}
        refused_reply = await agent.post(f"/v1/conversations/{theirs}/messages", json=reply)
        assert problem(refused_reply, 404)["detail"] == f"no conversation {theirs}"
        replied = await agent.post(f"/v1/conversations/{ours}/messages", json=reply)
        assert replied.status_code == 202, replied.text
        shown = (await agent.get(f"/v1/conversations/{ours}")).json()
        (sent,) = [m for m in shown["messages"] if m["id"] == replied.json()["message_id"]]
        assert sent["author"] == "camille"
        assert any(e["event"] == "ReplyAuthored" for e in shown["timeline"])
        assert problem(await agent.post(f"/v1/conversations/{theirs}/resolve"), 404)

        for_another = await agent.post("/v1/queue/next", json={"agent": "sam"})
        assert problem(for_another, 403)["detail"].endswith("camille")
        taken = await agent.post("/v1/queue/next", json={"agent": "camille"})
        assert taken.status_code == 200, taken.text
        assert taken.json()["conversation"]["id"] == ours
        nothing = await agent.post("/v1/queue/next", json={"agent": "camille"})
        assert problem(nothing, 404)  # billing's conversation is not the agent's to take

        assert problem(await agent.get("/v1/analytics"), 403)["scope"] == "analytics:read"
        assert problem(await agent.get("/v1/agents"), 403)["scope"] == "admin"

    async with client(sqlite_runtime, sam) as supervisor:
        listed = (await supervisor.get("/v1/conversations", params=fresh)).json()
        assert {c["id"] for c in listed["items"]} == {ours, theirs}
        assert (await supervisor.get(f"/v1/conversations/{theirs}")).status_code == 200
        queue = (await supervisor.get("/v1/queue", params=fresh)).json()
        assert [i["id"] for i in queue["items"]] == [theirs]  # camille holds ours
        today = datetime.now(UTC).date().isoformat()
        report = await supervisor.get("/v1/analytics", params={"from": today, "to": today})
        assert report.status_code == 200, report.text
        assert problem(await supervisor.get("/v1/agents"), 403)["scope"] == "admin"

    agents = {a["agent"]: a for a in (await api.get("/v1/agents")).json()["items"]}
    assert agents["camille"]["role"] == "agent"
    assert agents["camille"]["teams"] == ["delivery"]
    assert agents["sam"]["role"] == "supervisor"


@pytest.mark.asyncio
async def test_a_role_changed_takes_effect_for_the_agents_key(
    sqlite_runtime: Runtime, api: httpx.AsyncClient
) -> None:
    _, position = await conversation_of_team(api, "+33612345003", "billing")
    key = await enroll(api, "lou", "agent", ["delivery"])
    again = await api.post("/v1/agents", json={"name": "lou", "teams": []})
    assert problem(again, 409)["field"] == "name"
    bad = await api.post("/v1/agents", json={"name": "lou", "role": "boss"})
    assert problem(bad, 422)["field"] == "role"
    async with client(sqlite_runtime, key) as agent:
        params = {"min_position": position}
        assert (await agent.get("/v1/conversations", params=params)).json()["items"] == []
        changed = await api.patch("/v1/agents/lou", json={"role": "agent", "teams": ["billing"]})
        assert changed.json() == {"name": "lou", "role": "agent", "teams": ["billing"]}
        assert len((await agent.get("/v1/conversations", params=params)).json()["items"]) == 1
    assert problem(await api.patch("/v1/agents/nobody", json={"role": "agent"}), 404)


def test_the_cli_issues_a_scoped_key_and_enrolls_agents(chainon: Run, acme: str) -> None:
    issued = chainon(
        "brands", "keys", "acme", "--issue", "ci", "--scope", "messages:send",
        "--scope", "contacts:read",
    )  # fmt: skip
    assert issued.exit_code == 0, issued.output
    key_id = api_key(issued.stdout).split("_")[1]
    assert re.search(rf"{key_id}\s+│ ci\s+│ no\s+│ never\s+│ never\s+│ messages:send contacts:read",
                     issued.stdout), issued.stdout  # fmt: skip
    first = acme.split("_")[1]
    assert re.search(rf"{first}\s+│ first\s+│ no\s+│ never\s+│ never\s+│ admin", issued.stdout)

    unknown = refused(chainon("brands", "keys", "acme", "--issue", "x", "--scope", "root"))
    assert "scopes[0]" in unknown
    assert "unknown scope 'root'" in unknown

    added = chainon("agents", "add", "camille", "--brand", "acme", "--team", "delivery")
    assert added.exit_code == 0, added.output
    agent_key = api_key(added.stdout)
    listed = chainon("agents", "list", "--brand", "acme")
    assert re.search(r"camille\s+│ agent\s+│ delivery", listed.stdout), listed.stdout
    keys = chainon("brands", "keys", "acme")
    assert re.search(rf"{agent_key.split('_')[1]}\s+│ agent:camille.*│ agent camille", keys.stdout)

    changed = chainon("agents", "set", "camille", "--brand", "acme", "--role", "supervisor")
    assert changed.exit_code == 0, changed.output
    assert "supervisor" in chainon("agents", "list", "--brand", "acme").stdout
    twice = refused(chainon("agents", "add", "camille", "--brand", "acme"))
    assert "exists already" in twice


@pytest.mark.asyncio
async def test_the_console_signs_an_agent_in_with_its_own_key(
    sqlite_runtime: Runtime, api: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    ours, _ = await conversation_of_team(api, "+33612345004", "delivery")
    theirs, position = await conversation_of_team(api, "+33612345005", "billing")
    camille = await enroll(api, "camille", "agent", ["delivery"])
    assert await sqlite_runtime.caught_up(position, 5.0)

    await sign_in(browser, camille, agent="")  # the key knows its agent
    queue = await browser.get("/console")
    assert "camille" in queue.text
    assert ours in queue.text
    assert theirs not in queue.text
    assert (await browser.get(f"/console/conversations/{ours}")).status_code == 200
    assert (await browser.get(f"/console/conversations/{theirs}")).status_code == 404


@pytest.mark.asyncio
async def test_a_key_that_may_not_read_conversations_opens_no_console(
    sqlite_runtime: Runtime, brand: BrandWithKey, browser: httpx.AsyncClient
) -> None:
    key = sqlite_runtime.core.api_keys.issue(brand.id, "ci", scopes=("messages:send",))
    form = await browser.get("/console/sign-in")
    answer = await browser.post(
        "/console/sign-in",
        data={"api_key": key, "agent": "alice", "csrf": hidden_csrf(form.text)},
    )
    assert answer.status_code == 401


@pytest.mark.asyncio
async def test_a_read_only_key_reads_the_console_but_changes_nothing(
    sqlite_runtime: Runtime, api: httpx.AsyncClient, brand: BrandWithKey, browser: httpx.AsyncClient
) -> None:
    ours, position = await conversation_of_team(api, "+33612345006", "delivery")
    key = sqlite_runtime.core.api_keys.issue(brand.id, "viewer", scopes=("conversations:read",))
    assert await sqlite_runtime.caught_up(position, 5.0)
    csrf = await sign_in(browser, key, agent="viewer")
    assert (await browser.get(f"/console/conversations/{ours}")).status_code == 200
    reply = await browser.post(
        f"/console/conversations/{ours}/reply", data={"body": "Bonjour", "csrf": csrf}
    )
    assert reply.status_code == 403
    assert "messages:send" in reply.text
    taken = await browser.post("/console/next", data={"csrf": csrf})
    assert taken.status_code == 403
