"""Scopes (issue 20): every route that takes an API key asks one scope, from one table;
``admin`` implies them all; an agent's role decides its scopes and its teams what it sees."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from chainon.api.app import create_app
from chainon.api.queue_stream import seen_by
from chainon.api.scopes import ROUTE_SCOPES, scope_of
from chainon.domain.access import (
    ROLE_SCOPES,
    AgentProfile,
    Principal,
    Role,
    Scope,
    checked_agent,
    checked_scopes,
)
from chainon.domain.brand import Brand
from chainon.domain.errors import InvalidInput, NotFound
from chainon.projections.agent_queue import QueueItem, QueueMark

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@cache
def keyed_operations() -> frozenset[tuple[str, str]]:
    """(method, path) of every operation of the app that asks for an API key."""
    document: dict[str, Any] = create_app().openapi()
    return frozenset(
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    )


def test_every_route_that_takes_a_key_has_a_scope() -> None:
    operations = keyed_operations()
    assert ("GET", "/v1/conversations") in operations  # the walk found the routes
    missing = sorted(operations - set(ROUTE_SCOPES))
    assert missing == [], f"routes without a scope in chainon/api/scopes.py: {missing}"


def test_the_table_names_no_route_that_does_not_exist() -> None:
    assert sorted(set(ROUTE_SCOPES) - keyed_operations()) == []


def test_a_route_missing_from_the_table_asks_for_admin() -> None:
    assert scope_of("POST", "/v1/something-new") is Scope.ADMIN
    assert scope_of("GET", "/v1/conversations") is Scope.CONVERSATIONS_READ
    assert scope_of("HEAD", "/v1/conversations") is Scope.CONVERSATIONS_READ


def test_admin_implies_every_scope() -> None:
    admin = Principal("k", frozenset({Scope.ADMIN}))
    assert all(admin.may(scope) for scope in Scope)
    narrow = Principal("k", frozenset({Scope.MESSAGES_SEND}))
    assert narrow.may(Scope.MESSAGES_SEND)
    assert [s for s in Scope if narrow.may(s)] == [Scope.MESSAGES_SEND]


def test_roles_decide_scopes_and_teams() -> None:
    def principal(role: Role) -> Principal:
        return Principal("k", ROLE_SCOPES[role], AgentProfile("camille", role, ("delivery",)))

    agent, supervisor, admin = (principal(r) for r in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN))
    assert agent.may(Scope.CONVERSATIONS_WRITE)
    assert agent.may(Scope.MESSAGES_SEND)
    assert not agent.may(Scope.ANALYTICS_READ)
    assert not agent.may(Scope.ADMIN)
    assert supervisor.may(Scope.ANALYTICS_READ)
    assert not supervisor.may(Scope.ADMIN)
    assert admin.may(Scope.ADMIN)
    assert agent.teams == frozenset({"delivery"})
    assert agent.sees("delivery")
    assert not agent.sees("billing")
    assert not agent.sees(None)
    assert supervisor.teams is None
    assert supervisor.sees("billing")
    assert supervisor.sees(None)
    assert agent.actor == "camille"


def test_scopes_are_checked_at_issue_time() -> None:
    assert checked_scopes(["messages:send", "messages:send"]) == ("messages:send",)
    with pytest.raises(InvalidInput) as refused:
        checked_scopes(["messages:send", "messages:write"])
    assert refused.value.field == "scopes[1]"
    with pytest.raises(InvalidInput):
        checked_scopes([])


def test_agent_names_and_teams_are_checked() -> None:
    assert checked_agent("camille.d", ["delivery", "delivery", "billing"]) == (
        "delivery",
        "billing",
    )
    with pytest.raises(InvalidInput) as refused:
        checked_agent("has space", [])
    assert refused.value.field == "name"
    with pytest.raises(InvalidInput) as refused:
        checked_agent("camille", ["ok", " "])
    assert refused.value.field == "teams[1]"


def test_a_brand_key_carries_its_scopes_and_an_agent_key_its_role() -> None:
    brand = Brand.register(slug="acme", name="Acme", at=T0)
    brand.issue_key("000000000001", "h1", "ci", at=T0, scopes=("messages:send",))
    brand.issue_key("000000000002", "h2", "old", at=T0)
    assert brand.principal_of("000000000001").scopes == frozenset({Scope.MESSAGES_SEND})
    assert brand.principal_of("000000000002").scopes == frozenset({Scope.ADMIN})
    with pytest.raises(NotFound):
        brand.issue_key("000000000003", "h3", "x", at=T0, agent="camille")
    assert brand.enroll_agent("camille", Role.AGENT, ["delivery"], at=T0)
    brand.issue_key("000000000003", "h3", "agent:camille", at=T0, agent="camille")
    principal = brand.principal_of("000000000003")
    assert principal.agent == AgentProfile("camille", Role.AGENT, ("delivery",))
    assert principal.scopes == ROLE_SCOPES[Role.AGENT]
    assert not brand.enroll_agent("camille", Role.AGENT, ["delivery"], at=T0)  # no change
    assert brand.enroll_agent("camille", Role.SUPERVISOR, [], at=T0)
    assert brand.principal_of("000000000003").teams is None  # the key follows the role
    names = [type(e).__name__ for e in brand.collect_events()]
    assert names[-3:] == ["AgentEnrolled", "ApiKeyIssued", "AgentRoleChanged"]


def queued(conversation_id: str, team: str | None) -> QueueItem:
    return QueueItem(
        conversation_id=conversation_id,
        brand_id="b",
        contact_id="c",
        status="open",
        agent=None,
        team=team,
        priority=0,
        waiting_since=T0,
        sla_due_at=None,
        last_message_at=T0,
        last_direction="in",
        opened_at=T0,
        position=1,
        possible_opt_out=None,
        handoff=None,
        waiting=True,
        age_seconds=0,
        breached=False,
        mark=QueueMark(0, T0.isoformat(), conversation_id),
    )


def test_an_agents_stream_shows_its_teams_rows_and_takes_off_one_that_leaves() -> None:
    shown = {"moved"}
    changed = [queued("ours", "delivery"), queued("moved", "billing"), queued("other", "billing")]
    seen = seen_by(("delivery",), changed, shown)
    assert [(i.conversation_id, i.waiting, i.team) for i in seen] == [
        ("ours", True, "delivery"),
        ("moved", False, None),  # off the list, without saying where it went
    ]
    assert shown == {"ours"}
    assert seen_by(("delivery",), [queued("moved", "billing")], shown) == []
