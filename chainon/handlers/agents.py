"""Agents' work on conversations: assign, claim, tag, prioritise, resolve, reopen; the
brand's queue settings and agents' capacities; and the desks that count who holds what."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.agent_desk import AgentDesk
from chainon.domain.brand import DEFAULT_AGENT_CAPACITY, Brand
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import desk_holder
from chainon.handlers.loading import Handled, Loader, conversation_of, get, outcome_of


def desk_of(loader: Loader, brand_id: UUID, agent: str, now: datetime) -> AgentDesk:
    desk = loader.find(AgentDesk, ids.agent_desk_id(brand_id, agent))
    return desk if desk is not None else AgentDesk.open(brand_id, agent, at=now)


def keep_desks(
    loader: Loader, conversation: Conversation, held_by: str | None, now: datetime
) -> list[AgentDesk]:
    """Moves the conversation between desks when the agent holding it changed (assigned
    elsewhere, resolved, reopened); ``held_by`` is its holder before the command."""
    holder = desk_holder(conversation)
    if holder == held_by:
        return []
    changed: list[AgentDesk] = []
    if held_by is not None:
        desk = desk_of(loader, conversation.brand_id, held_by, now)
        if desk.let_go(conversation.id, at=now):
            changed.append(desk)
    if holder is not None:
        desk = desk_of(loader, conversation.brand_id, holder, now)
        if desk.hold(conversation.id, at=now):
            changed.append(desk)
    return changed


def claim(loader: Loader, command: cmd.ClaimConversation, now: datetime) -> Handled:
    conversation = conversation_of(loader, command.brand_id, command.conversation_id)
    held_by = desk_holder(conversation)
    if command.within_capacity and held_by != command.agent:
        brand = get(loader, Brand, command.brand_id)
        capacity = brand.capacities.get(command.agent, DEFAULT_AGENT_CAPACITY)
        desk_of(loader, brand.id, command.agent, now).check_room(capacity)
    conversation.claim(command.agent, at=now)
    desks = keep_desks(loader, conversation, held_by, now)
    return outcome_of(conversation, True), [conversation, *desks]


def assign(loader: Loader, command: cmd.AssignConversation, now: datetime) -> Handled:
    conversation = conversation_of(loader, command.brand_id, command.conversation_id)
    held_by = desk_holder(conversation)
    changed = conversation.assign(agent=command.agent, team=command.team, at=now)
    desks = keep_desks(loader, conversation, held_by, now)
    return outcome_of(conversation, changed), [conversation, *desks]


def tag(loader: Loader, command: cmd.TagConversation, now: datetime) -> Handled:
    conversation = conversation_of(loader, command.brand_id, command.conversation_id)
    changed = [conversation.tag(t, at=now) for t in command.add]
    changed += [conversation.untag(t, at=now) for t in command.remove]
    return outcome_of(conversation, any(changed)), [conversation]


def resolve(loader: Loader, command: cmd.ResolveConversation, now: datetime) -> Handled:
    conversation = conversation_of(loader, command.brand_id, command.conversation_id)
    held_by = desk_holder(conversation)
    conversation.resolve(by=command.by, at=now)
    from chainon.handlers.bot import survey  # the bot's handlers build on these ones

    said = [a for a in survey(loader, conversation, command, now) if a is not conversation]
    desks = keep_desks(loader, conversation, held_by, now)
    return outcome_of(conversation, True), [conversation, *said, *desks]


def reopen(loader: Loader, command: cmd.ReopenConversation, now: datetime) -> Handled:
    conversation = conversation_of(loader, command.brand_id, command.conversation_id)
    held_by = desk_holder(conversation)
    conversation.reopen(reason=command.reason, at=now)
    desks = keep_desks(loader, conversation, held_by, now)
    return outcome_of(conversation, True), [conversation, *desks]


def prioritize(loader: Loader, command: cmd.PrioritizeConversation, now: datetime) -> Handled:
    conversation = conversation_of(loader, command.brand_id, command.conversation_id)
    changed = conversation.prioritize(command.priority, at=now)
    return outcome_of(conversation, changed), [conversation]


def configure_queue(loader: Loader, command: cmd.ConfigureQueue, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    changed = brand.configure_queue(command.first_response_minutes, at=now)
    return cmd.Outcome(changed=changed, brand_id=brand.id), [brand]


def set_capacity(loader: Loader, command: cmd.SetAgentCapacity, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    changed = brand.set_capacity(command.agent, command.capacity, at=now)
    return cmd.Outcome(changed=changed, brand_id=brand.id), [brand]
