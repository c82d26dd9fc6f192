"""The capacity rule ("next for me" never beyond an agent's capacity) decided on the
agent's desk, and the desk kept in step by every command that moves a conversation
between agents, resolves it or reopens it. The core runs on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.agent_desk import AgentDesk
from chainon.domain.brand import DEFAULT_AGENT_CAPACITY
from chainon.domain.channels import Channel
from chainon.domain.errors import Conflict, TransitionRefused

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BRAND_SMS = "+33939000001"


def test_a_desk_refuses_one_more_at_capacity_and_counts_each_conversation_once() -> None:
    desk = AgentDesk.open(uuid4(), "ana", at=T0)
    first, second = uuid4(), uuid4()
    desk.check_room(1)
    assert desk.hold(first, at=T0)
    assert not desk.hold(first, at=T0)
    with pytest.raises(Conflict) as refused:
        desk.check_room(1)
    assert refused.value.field == "agent"
    assert "1/1" in refused.value.detail
    desk.check_room(2)
    assert desk.hold(second, at=T0)
    assert desk.let_go(first, at=T0)
    assert not desk.let_go(first, at=T0)
    assert desk.holding == {second}


def test_a_desk_replays_to_the_same_holding() -> None:
    desk = AgentDesk.open(uuid4(), "ana", at=T0)
    kept, gone = uuid4(), uuid4()
    desk.hold(kept, at=T0)
    desk.hold(gone, at=T0)
    desk.let_go(gone, at=T0)
    replayed = None
    for event in desk.collect_events():
        replayed = event.mutate(replayed)
    assert isinstance(replayed, AgentDesk)
    assert replayed.holding == {kept}
    assert replayed.id == ids.agent_desk_id(desk.brand_id, "ana")


class Story:
    def __init__(self) -> None:
        self.core = Core(clock=lambda: T0)
        self.brand = self.core.register_brand(
            slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)]
        )

    def waiting(self, n: int) -> UUID:
        outcome = self.core.handle(
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

    def take(self, conversation_id: UUID, agent: str = "ana") -> cmd.Outcome:
        return self.core.handle(
            cmd.ClaimConversation(
                brand_id=self.brand.id,
                conversation_id=conversation_id,
                agent=agent,
                within_capacity=True,
            )
        )

    def holding(self, agent: str = "ana") -> set[UUID]:
        desk = self.core.find(AgentDesk, ids.agent_desk_id(self.brand.id, agent))
        return set() if desk is None else desk.holding


def test_next_for_me_stops_at_the_agents_capacity() -> None:
    story = Story()
    story.core.handle(cmd.SetAgentCapacity(brand_id=story.brand.id, agent="ana", capacity=2))
    first, second, third = (story.waiting(n) for n in range(3))
    story.take(first)
    story.take(second)
    with pytest.raises(Conflict, match="at capacity"):
        story.take(third)
    assert story.holding() == {first, second}
    story.take(first)  # taking again what one holds is no extra load
    assert story.holding() == {first, second}


def test_resolving_frees_room_and_reopening_counts_again() -> None:
    story = Story()
    story.core.handle(cmd.SetAgentCapacity(brand_id=story.brand.id, agent="ana", capacity=1))
    first, second = story.waiting(1), story.waiting(2)
    story.take(first)
    story.core.handle(
        cmd.ResolveConversation(brand_id=story.brand.id, conversation_id=first, by="ana")
    )
    assert story.holding() == set()
    story.take(second)
    assert story.holding() == {second}
    story.core.handle(cmd.ReopenConversation(brand_id=story.brand.id, conversation_id=first))
    assert story.holding() == {first, second}  # over capacity by an agent's own reopen


def test_an_inbound_message_that_reopens_a_conversation_counts_on_its_agents_desk() -> None:
    story = Story()
    first = story.waiting(1)
    story.take(first)
    story.core.handle(
        cmd.ResolveConversation(brand_id=story.brand.id, conversation_id=first, by="ana")
    )
    assert story.holding() == set()
    again = story.core.handle(
        cmd.ReceiveMessage(
            provider="sandbox",
            provider_message_id="m-again",
            channel=Channel.SMS,
            sender="+33612340001",
            recipient=BRAND_SMS,
            body="Encore moi",
        )
    )
    assert again.conversation_id == first
    assert story.holding() == {first}


def test_assignment_moves_the_conversation_between_desks() -> None:
    story = Story()
    first = story.waiting(1)
    story.take(first)
    story.core.handle(
        cmd.AssignConversation(
            brand_id=story.brand.id, conversation_id=first, agent="bob", team=None
        )
    )
    assert story.holding("ana") == set()
    assert story.holding("bob") == {first}


def test_two_agents_never_get_the_same_conversation() -> None:
    story = Story()
    first = story.waiting(1)
    story.take(first, "ana")
    with pytest.raises(TransitionRefused):
        story.take(first, "bob")
    assert story.holding("bob") == set()


def test_the_default_capacity_applies_without_a_setting() -> None:
    story = Story()
    taken = [story.waiting(n) for n in range(DEFAULT_AGENT_CAPACITY + 1)]
    for conversation_id in taken[:-1]:
        story.take(conversation_id)
    with pytest.raises(Conflict):
        story.take(taken[-1])
