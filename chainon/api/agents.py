"""A brand's agents: enrolled with a role and teams (each with a key of its own), and how
many conversations each may hold and holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from chainon.api.answers import act
from chainon.api.deps import BrandDep, IdempotencyDep, RuntimeDep
from chainon.api.queue import MinPosition, read_position
from chainon.api.schemas import Accepted, Strict
from chainon.domain import commands as cmd
from chainon.domain.access import AGENT_NAME, MAX_TEAMS, AgentProfile, Role
from chainon.domain.brand import DEFAULT_AGENT_CAPACITY, MAX_AGENT_CAPACITY
from chainon.domain.plain_text import PlainText
from chainon.projections.agent_queue import agents

router = APIRouter(prefix="/v1", tags=["agents"])

AgentName = Annotated[str, Field(min_length=1, max_length=128, pattern=AGENT_NAME.pattern)]
Team = Annotated[PlainText, Field(min_length=1, max_length=128)]


class AgentIn(Strict):
    name: AgentName
    role: Role = Field(
        Role.AGENT,
        description="`agent`: its teams' conversations only; `supervisor`: every "
        "conversation of the brand and the analytics; `admin`: all a brand's key may do.",
    )
    teams: list[Team] = Field(default_factory=list, max_length=MAX_TEAMS)


class AgentChangeIn(Strict):
    role: Role
    teams: list[Team] = Field(default_factory=list, max_length=MAX_TEAMS)


class AgentProfileOut(BaseModel):
    name: str
    role: Role
    teams: list[str]

    @classmethod
    def of(cls, profile: AgentProfile) -> AgentProfileOut:
        return cls(name=profile.name, role=profile.role, teams=list(profile.teams))


class EnrolledOut(BaseModel):
    agent: AgentProfileOut
    key: str = Field(description="The agent's API key: shown this once, stored hashed.")


class CapacityIn(Strict):
    capacity: int = Field(
        ge=0, le=MAX_AGENT_CAPACITY, description="Open conversations the agent may hold."
    )


class AgentOut(BaseModel):
    agent: str
    capacity: int
    open: int
    role: Role | None = Field(None, description="None: a name with a capacity, not enrolled.")
    teams: list[str] = Field(default_factory=list)


class AgentsOut(BaseModel):
    items: list[AgentOut]
    position: int
    caught_up: bool | None = None


@router.post("/agents", status_code=201, response_model=EnrolledOut)
async def enroll_agent(body: AgentIn, brand: BrandDep, runtime: RuntimeDep) -> EnrolledOut:
    """Enrolls an agent and issues its key; 409 when the name is enrolled already."""
    enrolled, key = await runtime.call(
        runtime.core.api_keys.enroll_agent, brand.id, body.name, body.role, body.teams
    )
    return EnrolledOut(agent=AgentProfileOut.of(enrolled.agents[body.name]), key=key)


@router.patch("/agents/{agent}", response_model=AgentProfileOut)
async def change_agent(
    agent: Annotated[str, Path(min_length=1, max_length=128)],
    body: AgentChangeIn,
    brand: BrandDep,
    runtime: RuntimeDep,
) -> AgentProfileOut:
    """Sets an enrolled agent's role and teams; its key follows from its next request."""
    changed = await runtime.call(
        runtime.core.api_keys.change_agent, brand.id, agent, body.role, body.teams
    )
    return AgentProfileOut.of(changed.agents[agent])


@router.get("/agents", response_model=AgentsOut)
async def list_agents(
    brand: BrandDep, runtime: RuntimeDep, min_position: MinPosition = None
) -> AgentsOut:
    """Enrolled agents, and names with a capacity set or a conversation open, with how
    many they hold."""
    position, done = await read_position(runtime, min_position)
    loads = {a.agent: a for a in await runtime.call(agents, runtime.views.store, brand.id)}
    items = []
    for name in sorted(set(loads) | set(brand.agents)):
        load, profile = loads.get(name), brand.agents.get(name)
        capacity = load.capacity if load else brand.capacities.get(name, DEFAULT_AGENT_CAPACITY)
        items.append(
            AgentOut(
                agent=name,
                capacity=capacity,
                open=load.open if load else 0,
                role=profile.role if profile else None,
                teams=list(profile.teams) if profile else [],
            )
        )
    return AgentsOut(items=items, position=position, caught_up=done)


@router.put("/agents/{agent}", response_model=Accepted)
async def set_capacity(
    agent: Annotated[PlainText, Path(min_length=1, max_length=128)],
    body: CapacityIn,
    brand: BrandDep,
    runtime: RuntimeDep,
    idempotency: IdempotencyDep,
    response: Response,
) -> Accepted:
    command = cmd.SetAgentCapacity(brand_id=brand.id, agent=agent, capacity=body.capacity)
    return await act(runtime, brand, idempotency, "capacity", command, response)
