"""The part of the conversation aggregate that agents handle: who has it, how urgent it
is, its tags, and whether it is resolved.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate, event

from chainon.domain import conversation_events as events
from chainon.domain.conversation_state import ConversationState
from chainon.domain.errors import InvalidInput, TransitionRefused

MAX_TAG_LENGTH = 64
MAX_PRIORITY = 3


class Handling(ConversationState, Aggregate):
    Event = events.Event
    Assigned = events.Assigned
    Prioritized = events.Prioritized
    Tagged = events.Tagged
    Untagged = events.Untagged
    Resolved = events.Resolved
    Reopened = events.Reopened

    def assign(self, *, agent: str | None, team: str | None, at: datetime) -> bool:
        """Assigns to an agent and/or a team (None clears); False when nothing changes."""
        for name, value in (("agent", agent), ("team", team)):
            if value is not None and not value.strip():
                raise InvalidInput("must not be blank", field=name)
        if (agent, team) == (self.agent, self.team):
            return False
        self._assigned(agent=agent, team=team, how="assigned", timestamp=at)
        return True

    @event(Assigned)
    def _assigned(self, agent: str | None, team: str | None, how: str, timestamp: datetime) -> None:
        self.agent = agent
        self.team = team
        self.claimed = how == "claimed"

    def claim(self, agent: str, *, at: datetime) -> None:
        """An agent takes the conversation from the queue; refused if someone has it.

        Two agents claiming at once both load the same version; the store lets one
        commit, and the other, retrying, finds it taken.
        """
        if self.resolved:
            raise TransitionRefused("the conversation is resolved")
        if self.agent is not None and self.agent != agent:
            raise TransitionRefused(f"the conversation is already with {self.agent}")
        if self.agent != agent:
            self._assigned(agent=agent, team=self.team, how="claimed", timestamp=at)

    def prioritize(self, priority: int, *, at: datetime) -> bool:
        if not 0 <= priority <= MAX_PRIORITY:
            raise InvalidInput(f"must be 0 (normal) to {MAX_PRIORITY} (urgent)", field="priority")
        if priority == self.priority:
            return False
        self._prioritized(priority=priority, timestamp=at)
        return True

    @event(Prioritized)
    def _prioritized(self, priority: int, timestamp: datetime) -> None:
        self.priority = priority

    def tag(self, tag: str, *, at: datetime) -> bool:
        tag = normalise_tag(tag)
        if tag in self.tags:
            return False
        self._tagged(tag=tag, timestamp=at)
        return True

    @event(Tagged)
    def _tagged(self, tag: str, timestamp: datetime) -> None:
        self.tags.append(tag)

    def untag(self, tag: str, *, at: datetime) -> bool:
        tag = normalise_tag(tag)
        if tag not in self.tags:
            return False
        self._untagged(tag=tag, timestamp=at)
        return True

    @event(Untagged)
    def _untagged(self, tag: str, timestamp: datetime) -> None:
        self.tags.remove(tag)

    def resolve(self, *, by: str, at: datetime) -> None:
        if self.resolved:
            raise TransitionRefused("the conversation is already resolved")
        self._resolved(by=by, timestamp=at)

    @event(Resolved)
    def _resolved(self, by: str, timestamp: datetime) -> None:
        self.resolved = True
        self.last_activity_at = timestamp

    def reopen(self, *, reason: str, at: datetime) -> None:
        if not self.resolved:
            raise TransitionRefused("the conversation is open; only a resolved one can reopen")
        self._reopened(reason=reason, timestamp=at)

    @event(Reopened)
    def _reopened(self, reason: str, timestamp: datetime) -> None:
        self.resolved = False
        self.last_activity_at = timestamp


def normalise_tag(tag: str) -> str:
    cleaned = " ".join(tag.strip().lower().split())
    if not cleaned:
        raise InvalidInput("must not be empty", field="tag")
    if len(cleaned) > MAX_TAG_LENGTH:
        raise InvalidInput(f"must be at most {MAX_TAG_LENGTH} characters", field="tag")
    return cleaned
