"""The number prefixes a brand's sends may no longer reach: blocked by the pumping guard's
anomaly stop (``domain.sending_limits``), lifted only by an admin.

One small aggregate per brand, written rarely (a block, a lift), never by an ordinary
send: the counts that trigger a block live in a read model, so a campaign's sends are not
serialised here. A block keeps why and when; a lift keeps who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids


@dataclass(frozen=True)
class Block:
    prefix: str
    reason: str
    sends: int  # to the prefix in the window when it was blocked
    usual: float  # its usual 10-minute rate then
    at: datetime


@dataclass(frozen=True)
class Lift:
    prefix: str
    by: str
    at: datetime


class DestinationBlocks(Aggregate):
    class Event(Aggregate.Event):
        TOPIC = "chainon:DestinationBlocks.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:DestinationBlocks.Created"

    class Opened(Created):
        TOPIC = "chainon:DestinationBlocks.Opened"
        brand_id: UUID

    class PrefixBlocked(Event):
        """Sends to ``prefix`` spiked: ``sends`` in 10 minutes against a usual ``usual``."""

        TOPIC = "chainon:DestinationBlocks.PrefixBlocked"
        prefix: str
        reason: str
        sends: int
        usual: float

    class PrefixLifted(Event):
        """An admin (``actor``: an API key's id, ``cli:<user>``) let sends to it go again."""

        TOPIC = "chainon:DestinationBlocks.PrefixLifted"
        prefix: str
        actor: str

    @event(Opened)
    def __init__(self, brand_id: UUID) -> None:
        self.brand_id = brand_id
        self.blocked: dict[str, Block] = {}
        self.lifts: list[Lift] = []

    @classmethod
    def open(cls, brand_id: UUID, *, at: datetime) -> DestinationBlocks:
        return cls._create(
            cls.Opened, id=ids.destination_blocks_id(brand_id), brand_id=brand_id, timestamp=at
        )

    def block(self, prefix: str, reason: str, sends: int, usual: float, *, at: datetime) -> bool:
        if prefix in self.blocked:
            return False
        self._blocked(prefix=prefix, reason=reason, sends=sends, usual=usual, timestamp=at)
        return True

    @event(PrefixBlocked)
    def _blocked(
        self, prefix: str, reason: str, sends: int, usual: float, timestamp: datetime
    ) -> None:
        self.blocked[prefix] = Block(prefix, reason, sends, usual, timestamp)

    def lift(self, prefix: str, *, actor: str, at: datetime) -> bool:
        if prefix not in self.blocked:
            return False
        self._lifted(prefix=prefix, actor=actor, timestamp=at)
        return True

    @event(PrefixLifted)
    def _lifted(self, prefix: str, actor: str, timestamp: datetime) -> None:
        del self.blocked[prefix]
        self.lifts.append(Lift(prefix, actor, timestamp))

    def lifted_since(self, prefix: str) -> datetime | None:
        """When an admin last lifted ``prefix``: the burst before it is forgiven."""
        return max((lift.at for lift in self.lifts if lift.prefix == prefix), default=None)
