"""An agent's desk: the open conversations an agent holds, and the capacity rule.

"Next for me" must never take an agent beyond their capacity, even when two API
processes take for the same agent at once. The read models lag and live in other
processes, so the rule is decided here, on an aggregate every claim writes: two claims
for one agent load the same version, the store lets one commit, and the other, decided
again, sees the conversation the first one took.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids
from chainon.domain.errors import Conflict


class AgentDesk(Aggregate):
    TOPIC = "chainon:AgentDesk"

    class Event(Aggregate.Event):
        TOPIC = "chainon:AgentDesk.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:AgentDesk.Created"

    class Opened(Created):
        TOPIC = "chainon:AgentDesk.Opened"
        brand_id: UUID
        agent: str

    class ConversationHeld(Event):
        TOPIC = "chainon:AgentDesk.ConversationHeld"
        conversation_id: UUID

    class ConversationLetGo(Event):
        TOPIC = "chainon:AgentDesk.ConversationLetGo"
        conversation_id: UUID

    @event(Opened)
    def __init__(self, brand_id: UUID, agent: str) -> None:
        self.brand_id = brand_id
        self.agent = agent
        self.holding: set[UUID] = set()

    @classmethod
    def open(cls, brand_id: UUID, agent: str, *, at: datetime) -> AgentDesk:
        return cls._create(
            cls.Opened,
            id=ids.agent_desk_id(brand_id, agent),
            timestamp=at,
            brand_id=brand_id,
            agent=agent,
        )

    def check_room(self, capacity: int) -> None:
        """Refuses one more conversation when the agent holds their capacity already."""
        if len(self.holding) >= capacity:
            raise Conflict(f"agent at capacity ({len(self.holding)}/{capacity})", field="agent")

    def hold(self, conversation_id: UUID, *, at: datetime) -> bool:
        if conversation_id in self.holding:
            return False
        self._held(conversation_id=conversation_id, timestamp=at)
        return True

    @event(ConversationHeld)
    def _held(self, conversation_id: UUID, timestamp: datetime) -> None:
        self.holding.add(conversation_id)

    def let_go(self, conversation_id: UUID, *, at: datetime) -> bool:
        if conversation_id not in self.holding:
            return False
        self._let_go(conversation_id=conversation_id, timestamp=at)
        return True

    @event(ConversationLetGo)
    def _let_go(self, conversation_id: UUID, timestamp: datetime) -> None:
        self.holding.discard(conversation_id)
