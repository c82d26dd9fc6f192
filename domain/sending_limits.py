"""A brand's sending limits: its guard against SMS pumping and inbound floods.

SMS pumping is bots making a brand send to premium or expensive number ranges (a sign-up
form's "send me a code", hammered). The guard follows Twilio's SMS Pumping Protection and
Geo Permissions: a send to a country the brand did not allow, past its hourly cap for one
country, or past its hourly cap to numbers that never wrote back is blocked
(``destination_cap``); a sudden spike to one number prefix (the first
``PREFIX_DIGITS`` characters of the E.164 number, "+" included) blocks that prefix until an
admin lifts it. Only SMS and RCS to phone numbers are concerned: email is not pumped.

The counts come from a read model (``projections.destination_counts``) read in the send
decision, not from an aggregate every send would write: a campaign's thousands of sends
are not serialised on one brand-wide version. Only the anomaly's block is a recorded fact
(``domain.destination_blocks``).

One document, set whole (``PUT /v1/sending/limits``); what it leaves out keeps the
default, so a brand that never set anything is guarded by the defaults below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chainon.domain.addresses import read_phone
from chainon.domain.channels import Channel
from chainon.domain.message_status import Direction

if TYPE_CHECKING:
    from chainon.domain.conversation import Conversation

PREFIX_DIGITS = 8  # "+33612…": "+" and the first 7 digits
BURST_WINDOW = timedelta(minutes=10)
USUAL_SPAN = timedelta(hours=24)  # a prefix's usual rate: its mean 10 minutes over a day
DEFAULT_COUNTRIES = ("FR", "US")  # beside the countries of the brand's own senders
PUMPED = frozenset({Channel.SMS, Channel.RCS})
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class SendingLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_countries: list[CountryCode] | None = Field(
        None,
        max_length=250,
        description="ISO 3166 countries the brand's SMS/RCS may reach. Absent: the countries "
        "of the brand's own sender numbers, plus FR and US; a country outside needs to be "
        "listed here.",
    )
    per_country_per_hour: int = Field(
        100_000, ge=1, description="Sends to one country in one clock hour (UTC)."
    )
    never_replied_per_hour: int = Field(
        50_000,
        ge=1,
        description="Sends in one clock hour (UTC) to numbers that never wrote to the brand.",
    )
    prefix_burst: int = Field(
        500,
        ge=1,
        description="Sends to one number prefix (the first 7 digits) in 10 minutes above "
        "which, if also above `prefix_burst_factor` times its usual rate, the prefix is "
        "blocked until an admin lifts it.",
    )
    prefix_burst_factor: float = Field(
        5.0, ge=1.0, le=1000.0, description="How many times its usual 10-minute rate."
    )
    inbound_per_minute: int = Field(
        10,
        ge=1,
        description="Messages one consumer address sends in a minute above which they are "
        "still recorded but get no automatic answer (keyword confirmations, HELP, bots).",
    )


DEFAULT_LIMITS = SendingLimits()


@dataclass(frozen=True)
class Destination:
    """A phone send's keys in the counts."""

    number: str
    country: str  # ISO 3166 ("ZZ" when unknown)
    prefix: str


def destination_of(channel: Channel, number: str) -> Destination | None:
    """None when the limits do not concern the send (an email, a web chat)."""
    if channel not in PUMPED or not number.startswith("+"):
        return None
    return Destination(number, country_of(number), prefix_of(number))


def country_of(number: str) -> str:
    return read_phone(number, "ZZ").region or "ZZ"


def prefix_of(number: str) -> str:
    return number[:PREFIX_DIGITS]


def hour_of(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H")


def window_of(at: datetime) -> str:
    """The 10-minute window ``at`` falls in, as sortable text."""
    return at.replace(minute=at.minute - at.minute % 10).strftime("%Y-%m-%dT%H:%M")


def allowed_countries(limits: SendingLimits, senders: Iterable[str]) -> frozenset[str]:
    if limits.allowed_countries is not None:
        return frozenset(limits.allowed_countries)
    own = (country_of(s) for s in senders if s.startswith("+"))
    return frozenset({*DEFAULT_COUNTRIES, *own} - {"ZZ"})


@dataclass(frozen=True)
class Counts:
    """What the read model (and the sends decided before in the same batch) say."""

    country_this_hour: int = 0
    never_replied_this_hour: int = 0
    prefix_this_window: int = 0
    prefix_usual: float = 0.0  # mean sends per 10 minutes over the span before this window
    replied: bool = False  # the number ever wrote to the brand


class Verdict(StrEnum):
    PASS = "pass"
    CAPPED = "capped"  # this send is blocked; nothing else changes
    SPIKE = "spike"  # this send is blocked, and its prefix until an admin lifts it


def check(
    limits: SendingLimits, allowed: frozenset[str], to: Destination, counts: Counts
) -> Verdict:
    """Whether one more send to ``to`` stays within the limits, the counts being what was
    sent before it."""
    if to.country not in allowed:
        return Verdict.CAPPED
    if counts.country_this_hour >= limits.per_country_per_hour:
        return Verdict.CAPPED
    if not counts.replied and counts.never_replied_this_hour >= limits.never_replied_per_hour:
        return Verdict.CAPPED
    burst = counts.prefix_this_window + 1
    if burst > limits.prefix_burst and burst > limits.prefix_burst_factor * counts.prefix_usual:
        return Verdict.SPIKE
    return Verdict.PASS


def flooding(
    conversation: Conversation, now: datetime, limit: int = DEFAULT_LIMITS.inbound_per_minute
) -> bool:
    """Whether the consumer wrote more than ``limit`` messages in the minute up to ``now``
    (the message just received included): then no automatic answer goes back (keyword
    confirmations, HELP, a bot's question), so two automatons never answer each other in a
    loop. The messages are still recorded. Decided from the conversation's own messages."""
    since = now - timedelta(minutes=1)
    count = 0
    for message in reversed(conversation.messages.values()):  # newest first, as recorded
        if message.at <= since:
            break  # the rest is older: a long conversation costs no more than a short one
        if message.direction is Direction.INBOUND and message.at <= now:
            count += 1
            if count > limit:
                return True
    return False
