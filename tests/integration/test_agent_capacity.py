"""The capacity rule holds across processes: two cores (two API processes) taking for
one agent at once never take the agent beyond their capacity, and two agents never get
the same conversation, on both stores."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.agent_desk import AgentDesk
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.errors import Conflict, TransitionRefused
from chainon.event_store import store_env
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, make_settings

ROUNDS = 6


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(StoreKind.SQLITE, tmp_path)
    dsn: str = request.getfixturevalue("postgres_dsn")
    return make_settings(StoreKind.POSTGRES, tmp_path, dsn)


@pytest.fixture
def cores(settings: Settings) -> Iterator[tuple[Core, Core]]:
    env = {**store_env(settings), "AGGREGATE_CACHE_MAXSIZE": "1000"}
    first, second = Core(env), Core(dict(env))
    yield first, second
    first.close()
    second.close()


def waiting(core: Core, n: int) -> UUID:
    outcome = core.handle(
        cmd.ReceiveMessage(
            provider="sandbox",
            provider_message_id=f"m-{n}",
            channel=Channel.SMS,
            sender=f"+3361234{n:04d}",
            recipient=BRAND_SMS,
            body="Bonjour",
        )
    )
    assert outcome.conversation_id is not None
    return outcome.conversation_id


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Runs the calls on their own threads, released together; each result or error."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        start.wait()
        try:
            results[i] = call()
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def claim(core: Core, brand_id: UUID, conversation_id: UUID, agent: str) -> Callable[[], object]:
    command = cmd.ClaimConversation(
        brand_id=brand_id, conversation_id=conversation_id, agent=agent, within_capacity=True
    )
    return lambda: core.handle(command)


def test_two_processes_taking_for_one_agent_never_pass_the_capacity(
    cores: tuple[Core, Core],
) -> None:
    first, second = cores
    brand = first.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)])
    first.handle(cmd.SetAgentCapacity(brand_id=brand.id, agent="ana", capacity=ROUNDS))
    conversations = [waiting(first, n) for n in range(2 * ROUNDS)]
    results: list[object] = []
    for n in range(ROUNDS):
        a, b = conversations[2 * n], conversations[2 * n + 1]
        results += at_once(claim(first, brand.id, a, "ana"), claim(second, brand.id, b, "ana"))
    taken = [r for r in results if isinstance(r, cmd.Outcome)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(taken), len(refused)) == (ROUNDS, ROUNDS), results
    fresh = Core({**first.env})
    held = {c for c in conversations if fresh.get(Conversation, c).agent == "ana"}
    assert held == {r.conversation_id for r in taken}
    assert fresh.get(AgentDesk, ids.agent_desk_id(brand.id, "ana")).holding == held


def test_two_processes_racing_for_the_last_place_give_it_once(
    cores: tuple[Core, Core],
) -> None:
    first, second = cores
    brand = first.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)])
    first.handle(cmd.SetAgentCapacity(brand_id=brand.id, agent="ana", capacity=1))
    for n in range(ROUNDS):
        a, b = waiting(first, 2 * n), waiting(first, 2 * n + 1)
        results = at_once(claim(first, brand.id, a, "ana"), claim(second, brand.id, b, "ana"))
        taken = [r for r in results if isinstance(r, cmd.Outcome)]
        assert len(taken) == 1, results
        assert all(isinstance(r, Conflict) for r in results if r not in taken), results
        (outcome,) = taken
        assert outcome.conversation_id is not None
        first.handle(
            cmd.ResolveConversation(
                brand_id=brand.id, conversation_id=outcome.conversation_id, by="ana"
            )
        )


def test_two_agents_racing_for_one_conversation_get_it_once(cores: tuple[Core, Core]) -> None:
    first, second = cores
    brand = first.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)])
    for agent in ("ana", "bob"):
        first.handle(cmd.SetAgentCapacity(brand_id=brand.id, agent=agent, capacity=ROUNDS))
    for n in range(ROUNDS):
        conversation_id = waiting(first, n)
        results = at_once(
            claim(first, brand.id, conversation_id, "ana"),
            claim(second, brand.id, conversation_id, "bob"),
        )
        taken = [r for r in results if isinstance(r, cmd.Outcome)]
        assert len(taken) == 1, results
        assert all(isinstance(r, TransitionRefused) for r in results if r not in taken), results
        fresh = Core({**first.env})
        desks = [fresh.find(AgentDesk, ids.agent_desk_id(brand.id, a)) for a in ("ana", "bob")]
        holders = {d.agent for d in desks if d is not None and conversation_id in d.holding}
        assert holders == {fresh.get(Conversation, conversation_id).agent}
