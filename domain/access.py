"""Who may do what: the scopes of an API key, the roles of a brand's agents, and the
principal a request acts as.

A brand's key carries the scopes chosen when it was issued (keys issued before scopes
existed carry ``admin``). An agent's key carries its agent's role, looked up on every
request, so that a role changed takes effect without a new key: ``agent`` and
``supervisor`` work conversations (``supervisor`` across every team, with the analytics);
``admin`` may do all a brand's key may.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chainon.domain.errors import InvalidInput


class Scope(StrEnum):
    MESSAGES_SEND = "messages:send"
    CONVERSATIONS_READ = "conversations:read"
    CONVERSATIONS_WRITE = "conversations:write"
    CONTACTS_READ = "contacts:read"
    CONTACTS_WRITE = "contacts:write"
    ANALYTICS_READ = "analytics:read"
    ADMIN = "admin"  # implies every other scope


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


_WORKING = frozenset(
    {
        Scope.CONVERSATIONS_READ,
        Scope.CONVERSATIONS_WRITE,
        Scope.CONTACTS_READ,
        Scope.MESSAGES_SEND,
    }
)
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.AGENT: _WORKING,
    Role.SUPERVISOR: _WORKING | {Scope.ANALYTICS_READ},
    Role.ADMIN: frozenset({Scope.ADMIN}),
}
# What a key issued before scopes existed may do: all it could do then.
LEGACY_SCOPES = (Scope.ADMIN.value,)

AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
TEAM_NAME = re.compile(r"^\S(?:.{0,126}\S)?$")
MAX_TEAMS = 50


def checked_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The scopes, each known and given once; at least one."""
    if not scopes:
        raise InvalidInput("a key needs at least one scope", field="scopes")
    known = {s.value for s in Scope}
    for index, scope in enumerate(scopes):
        if scope not in known:
            raise InvalidInput(
                f"unknown scope {scope!r}: one of {', '.join(sorted(known))}",
                field=f"scopes[{index}]",
            )
    return tuple(dict.fromkeys(scopes))


def checked_agent(name: str, teams: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The agent's teams, checked with its name; each team given once."""
    if not AGENT_NAME.match(name):
        raise InvalidInput(
            "must be 1-128 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
            field="name",
        )
    if len(teams) > MAX_TEAMS:
        raise InvalidInput(f"at most {MAX_TEAMS} teams", field="teams")
    for index, team in enumerate(teams):
        if not TEAM_NAME.match(team):
            raise InvalidInput("must be 1 to 128 characters", field=f"teams[{index}]")
    return tuple(dict.fromkeys(teams))


@dataclass(frozen=True)
class AgentProfile:
    """An agent of a brand, as enrolled: its role and its teams."""

    name: str
    role: Role
    teams: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a brand's key (``agent`` None) or one of its agents."""

    key_id: str
    scopes: frozenset[Scope]
    agent: AgentProfile | None = None

    def may(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    @property
    def teams(self) -> frozenset[str] | None:
        """The teams whose conversations this principal sees; None: every conversation."""
        if self.agent is None or self.agent.role is not Role.AGENT:
            return None
        return frozenset(self.agent.teams)

    def sees(self, team: str | None) -> bool:
        teams = self.teams
        return teams is None or (team is not None and team in teams)

    @property
    def actor(self) -> str:
        """How the principal is named where a change records who made it."""
        return self.agent.name if self.agent is not None else self.key_id
