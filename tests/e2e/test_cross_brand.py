"""Brands never meet, checked on every route the app serves.

The routes are read from the app's own ``/openapi.json``: for every operation with a path
parameter, an outsider calling it with the owner's value gets exactly the answer a value
that exists nowhere gets (404, same problem), and the owner's data reads the same before and
after (every GET route, with the owner's key); every answer on the way is one the document
declares, body included. A route whose path parameter or body the test cannot fill
(``cross_brand_kinds``) fails it: a new route is covered the day it is added.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jsonschema
import pytest

from chainon.api.app import create_app
from chainon.domain.access import Role
from chainon.runtime import Runtime
from tests.conftest import CONSUMER, BrandWithKey, register
from tests.e2e.cross_brand_kinds import (
    AGENT,
    BLOCKED_PREFIX,
    BODIES,
    KINDS,
    LOOKED_UP,
    OWNERS_ONLY_FLOW,
    PUBLIC,
    Owned,
    populate,
)
from tests.e2e.test_sending_limits_api import Clock

pytestmark = pytest.mark.asyncio

METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM_KEYS = ("type", "title", "status", "field")
# GET routes that read no brand's data, or never end: not part of the owner's snapshot.
NOT_BRAND_DATA = {
    "/healthz",
    "/readyz",
    "/metrics",  # process-wide counters: every request moves them
    "/v1/queue/stream",  # server-sent events, open until the client leaves
    "/v1/unsubscribe/{token}",  # public, by signed token (PUBLIC)
    "/v1/audit",  # the owner's own reads add to it: checked on its own (``watched``)
}
DAYS = {"from": "2026-12-01", "to": "2026-12-31"}  # around the test's clock (Clock)
SNAPSHOT_QUERIES = {
    "/v1/contacts": {"address": CONSUMER},
    "/v1/contacts/search": {"name": "Léa"},
    "/v1/analytics": DAYS,
    "/v1/analytics/flows": DAYS,
    "/v1/analytics/csat": DAYS,
}
# Fields that move with time or with any brand's writes, not with the owner's data.
VOLATILE = {"generated_at", "as_of", "now", "age_seconds", "position"}

OTHER_SMS = "+33939000002"

# Registers whoever it is, given the owner; returns their bearer key.
Outsider = Callable[[Runtime, BrandWithKey], str]
OUTSIDE_AGENT = "intrus"


def other_brand(runtime: Runtime, owner: BrandWithKey) -> str:
    return register(runtime, slug="autre-maison", sms=OTHER_SMS).key


def agent_outside_the_team(runtime: Runtime, owner: BrandWithKey) -> str:
    """An agent of the owner's own brand, in a team none of its conversations is in."""
    _, key = runtime.core.api_keys.enroll_agent(owner.id, OUTSIDE_AGENT, Role.AGENT, ["ailleurs"])
    return key


# Who must see nothing of the owner's on a route with a path parameter: another brand on
# every route; an agent outside the team on the routes of a conversation (contacts are the
# brand's, not a team's, and the brand's settings ask scopes an agent has not: 403).
OUTSIDERS: dict[str, Outsider] = {
    "other-brand": other_brand,
    "agent-outside-team": agent_outside_the_team,
}
CONCERNS: dict[str, Callable[[list[str]], bool]] = {
    "other-brand": lambda names: bool(names),
    "agent-outside-team": lambda names: "conversation_id" in names,
}


@asynccontextmanager
async def client(
    runtime: Runtime, key: str, document: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose every answer must be one the document declares for its operation."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
        event_hooks={"response": [declared_in(document)]},
    ) as api:
        yield api


async def served_document(runtime: Runtime) -> dict[str, Any]:
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://chainon.test"
    ) as anyone:
        found: dict[str, Any] = (await anyone.get("/openapi.json")).json()
    return found


def declared_in(document: dict[str, Any]) -> Callable[[httpx.Response], Awaitable[None]]:
    """Checks an answer against the document: its status is declared, its body matches the
    declared schema. With data in it, which schemathesis's made-up ids never reach."""
    templates = sorted(document["paths"], key=lambda path: path.count("{"))  # literal first
    patterns = [(re.compile("^" + re.sub(r"{[^/]+}", "[^/]+", t) + "$"), t) for t in templates]

    async def check(response: httpx.Response) -> None:
        await response.aread()
        method, path = response.request.method.lower(), response.request.url.path
        template = next(t for pattern, t in patterns if pattern.match(path))
        declared = document["paths"][template][method]["responses"]
        where = f"{method.upper()} {template} → {response.status_code}"
        assert str(response.status_code) in declared, f"{where}: not declared"
        media = response.headers.get("content-type", "").split(";")[0]
        content = declared[str(response.status_code)].get("content", {})
        if media in ("application/json", "application/problem+json"):
            assert media in content, f"{where}: {media} not declared"
            schema = {**content[media]["schema"], "components": document["components"]}
            errors = list(jsonschema.Draft202012Validator(schema).iter_errors(response.json()))
            assert not errors, f"{where}: {errors[0].message} at {list(errors[0].path)}"

    return check


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def path_names(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]


def filled(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    return path


def seen(response: httpx.Response, values: dict[str, str]) -> tuple[Any, ...]:
    """What a caller learns from an answer: the status, and for a problem its kind and the
    detail with the value it names taken out."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return (response.status_code,)
    problem = response.json()
    detail = str(problem.get("detail", ""))
    for value in values.values():
        detail = detail.replace(value, "<value>")
    return (*(problem.get(key) for key in PROBLEM_KEYS), detail)


def without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


async def snapshot(
    api: httpx.AsyncClient, document: dict[str, Any], owned: Owned
) -> dict[str, Any]:
    """Every GET route's answer to the owner, with the owner's values in its path."""
    found: dict[str, Any] = {}
    for method, path, operation in operations(document):
        if method != "GET" or path in NOT_BRAND_DATA:
            continue
        required = [
            p["name"]
            for p in operation.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        ]
        query = SNAPSHOT_QUERIES.get(path, {})
        assert set(required) <= set(query), f"GET {path}: give its query in SNAPSHOT_QUERIES"
        values = {name: KINDS[name].owner(owned) for name in path_names(operation)}
        response = await api.get(filled(path, values), params=query)
        assert response.status_code == 200, (path, response.text)
        found[path] = without_volatile(response.json())
    return found


async def settled(api: httpx.AsyncClient, document: dict[str, Any], owned: Owned) -> dict[str, Any]:
    """The snapshot once the owner's data stopped moving (receipts, read models)."""
    previous = await snapshot(api, document, owned)
    for _ in range(100):
        await asyncio.sleep(0.1)
        current = await snapshot(api, document, owned)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the owner's data never stopped moving")


def assert_reads_the_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Each changed route with the lines that changed, rather than two long dicts."""
    changed = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            was, now = (
                json.dumps(snap.get(path), indent=1, sort_keys=True).splitlines()
                for snap in (before, after)
            )
            changed.append(f"GET {path}\n" + "\n".join(difflib.unified_diff(was, now, lineterm="")))
    assert not changed, "\n".join(changed)


def request_of(method: str, path: str, values: dict[str, str]) -> dict[str, Any]:
    make = BODIES.get((method, path))
    return make(values) if make else {}


def needs_a_body(operation: dict[str, Any]) -> bool:
    return bool(operation.get("requestBody", {}).get("required"))


@asynccontextmanager
async def watched(
    runtime: Runtime, outsider: Outsider
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any], Owned]]:
    """The owner's data made and read; the outsider's client; on leaving, the owner's data
    must read the same (the read models caught up with whatever the outsider did)."""
    runtime.core.clock = Clock()
    owner = register(runtime)
    outsider_key = outsider(runtime, owner)
    document = await served_document(runtime)
    async with (
        client(runtime, owner.key, document) as mine,
        client(runtime, outsider_key, document) as theirs,
    ):
        owned = await populate(mine, runtime)
        before = await settled(mine, document, owned)
        yield theirs, document, owned
        head = await runtime.call(lambda: runtime.core.recorder.max_notification_id() or 0)
        assert await runtime.caught_up(head)
        after = await settled(mine, document, owned)
        # the outsider read nothing of the owner's, so the owner's audit log never names it
        actor = f"key:{outsider_key.split('_')[1]}"
        for named in (actor, f"agent:{OUTSIDE_AGENT}"):
            trail = await mine.get("/v1/audit", params={"actor": named})
            assert trail.status_code == 200, trail.text
            assert trail.json()["items"] == [], named
        assert (await mine.get("/v1/audit")).json()["items"], "the owner's reads are recorded"
    assert_reads_the_same(before, after)


async def answered_as_missing(
    theirs: httpx.AsyncClient, method: str, path: str, operation: dict[str, Any], owned: Owned
) -> str | None:
    """What is wrong when the outsider asks the operation with the owner's values rather
    than with values that exist nowhere; None when nothing is."""
    names = path_names(operation)
    unknown = [name for name in names if name not in KINDS]
    assert not unknown, f"{method} {path}: say in KINDS how to make a {unknown}"
    if needs_a_body(operation):
        assert (method, path) in BODIES, f"{method} {path}: give a valid body in BODIES"
    owners = {name: KINDS[name].owner(owned) for name in names}
    missing = {name: KINDS[name].missing for name in names}
    mine = await theirs.request(method, filled(path, owners), **request_of(method, path, owners))
    none = await theirs.request(method, filled(path, missing), **request_of(method, path, missing))
    scoped = all(KINDS[name].scoped for name in names) or (method, path) in LOOKED_UP
    if seen(mine, owners) != seen(none, missing):
        return f"{method} {path}: {mine.status_code} {mine.text} ≠ {none.status_code} {none.text}"
    if scoped and mine.status_code != 404:
        return f"{method} {path}: {mine.status_code} {mine.text}, not 404"
    if not scoped and none.status_code >= 400:  # the call did not reach the object: no proof
        return f"{method} {path}: its own new value refused, {none.status_code} {none.text}"
    return None


@pytest.mark.parametrize("outsider", OUTSIDERS)
async def test_the_owner_s_values_in_a_path_are_answered_as_missing_ones(
    sqlite_runtime: Runtime, outsider: str
) -> None:
    concerned = CONCERNS[outsider]
    async with watched(sqlite_runtime, OUTSIDERS[outsider]) as (theirs, document, owned):
        tried, wrong = 0, []
        for method, path, operation in operations(document):
            names = path_names(operation)
            if names and set(names) <= PUBLIC:
                assert not operation.get("security"), f"{method} {path} asks a key: map it"
            elif concerned(names):
                tried += 1
                wrong.append(await answered_as_missing(theirs, method, path, operation, owned))
        assert [w for w in wrong if w] == []
        # every operation with a path parameter but the public ones; a conversation's
        assert tried >= {"other-brand": 30, "agent-outside-team": 8}[outsider]


async def test_the_owner_s_values_in_a_body_or_a_query_are_answered_as_missing_ones(
    sqlite_runtime: Runtime,
) -> None:
    """Brands only: an agent of the owner's brand may name its flows and agents."""
    async with watched(sqlite_runtime, other_brand) as (theirs, _, owned):
        opened = await theirs.post(
            "/v1/sandbox/inbound", json={"from": CONSUMER, "to": OTHER_SMS, "body": "Bonjour"}
        )
        conversation = opened.json()["conversation_id"]
        by_flow = [
            seen(
                await theirs.post(f"/v1/conversations/{conversation}/flow", json={"flow": name}),
                {"flow": name},
            )
            for name in (OWNERS_ONLY_FLOW, "never-published")
        ]
        assert by_flow[0] == by_flow[1]
        assert by_flow[0][:3] == ("https://chainon.dev/problems/not-found", "Not found", 404)
        by_contact = [
            (await theirs.get("/v1/conversations", params={"contact_id": contact})).json()
            for contact in (owned.contact_id, KINDS["contact_id"].missing)
        ]
        assert [found["items"] for found in by_contact] == [[], []]
        by_address = [
            seen(await theirs.get("/v1/contacts", params={"address": address}), {"a": address})
            for address in (BLOCKED_PREFIX + "5000", "+33600000099")
        ]
        assert by_address[0] == by_address[1]
        assert by_address[0][2] == 404
        for path in ("/v1/conversations", "/v1/queue"):
            by_agent = [
                without_volatile((await theirs.get(path, params={"agent": agent})).json())
                for agent in (AGENT, KINDS["agent"].missing)
            ]
            assert by_agent[0] == by_agent[1], path
