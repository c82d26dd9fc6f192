"""Messages as the console and the phone show them: ticks, cards and chips, fallbacks.

Built from the API's own ``MessageOut`` (what ``GET /v1/conversations/{id}`` answers),
so the console shows what the API says and nothing it does not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chainon.api.schemas import MessageOut
from chainon.domain.rich_content import RichContent
from chainon.projections.analytics import CURRENCY, country_of, unit_price

TICKS = {"queued": "○", "sent": "✓", "delivered": "✓✓", "read": "✓✓"}
STEPS = ("queued", "sent", "delivered", "read")


@dataclass(frozen=True)
class Chip:
    text: str
    postback_data: str
    kind: str


@dataclass(frozen=True)
class CardView:
    title: str | None
    description: str | None
    media_url: str | None
    chips: list[Chip]


@dataclass(frozen=True)
class RichView:
    text: str | None
    cards: list[CardView]
    chips: list[Chip]


@dataclass(frozen=True)
class MessageView:
    m: MessageOut
    rich: RichView | None
    steps: list[str] = field(default_factory=list)  # the delivery steps reached, in order
    cost: str | None = None  # an outbound message's price, as the analytics count it
    release_at: str | None = None  # a deferred message's release, in UTC
    chosen: str | None = None  # an inbound answer: the suggestion it picked (tapped or numbered)

    @property
    def tick(self) -> str:
        return TICKS.get(self.m.status, "")

    @property
    def read(self) -> bool:
        return "read" in self.steps

    @property
    def inbound(self) -> bool:
        return self.m.direction == "inbound"


def _chips(suggestions: list[Any]) -> list[Chip]:
    return [Chip(s.text, s.postback_data, s.kind) for s in suggestions]


def rich_view(rich: dict[str, Any] | None) -> RichView | None:
    if not rich:
        return None
    content = RichContent.model_validate(rich)
    cards = [
        CardView(c.title, c.description, c.media_url, _chips(c.suggestions)) for c in content.cards
    ]
    return RichView(content.text, cards, _chips(content.suggestions))


def message_view(
    m: MessageOut, release_at: datetime | None = None, chosen: str | None = None
) -> MessageView:
    reached = {change.status for change in m.history} | {m.status}
    if m.read_at is not None:
        reached.add("read")
    steps = [s for s in STEPS if s in reached]
    price = None if m.direction == "inbound" else cost(m)
    release = release_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if release_at else None
    return MessageView(m, rich_view(m.rich), steps, price, release, chosen)


def cost(m: MessageOut) -> str | None:
    """The analytics' price (``projections.analytics.unit_price``) of its segments."""
    channel = m.channel.value
    price = unit_price(channel, country_of(m.recipient))
    if price is None or m.status in ("blocked", "deferred"):
        return None
    return f"{(price * Decimal(m.segments)).normalize():f} {CURRENCY}"


def fingerprint(messages: list[MessageView]) -> str:
    """What a polling page already shows: the same answers 204 and nothing is swapped, so
    a chip is never replaced under the finger that taps it."""
    shown = ";".join(f"{v.m.id}:{v.m.status}:{v.m.read_at}" for v in messages)
    return hashlib.sha256(shown.encode()).hexdigest()[:20]
