"""The inbound traffic every inbound measurement replays: N messages over M conversations.

Message ``k`` comes from consumer ``k mod M`` to one brand number, so each conversation
gets N/M messages, interleaved as a burst from many consumers arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainon.domain.commands import ReceiveMessage

BRAND_NUMBER = "+33939000001"
PROVIDER = "bench"
BODIES = (
    "Bonjour, je voudrais savoir où en est ma commande, merci !",
    "Est-ce que je peux changer l'adresse de livraison ?",
    "Oui, demain matin ça me va.",
    "Merci beaucoup pour votre aide, bonne journée",
)


@dataclass(frozen=True)
class Inbound:
    provider_message_id: str
    sender: str
    body: str


def consumer_number(conversation: int) -> str:
    return f"+336{conversation:08d}"


# French mobiles +33 6 xx: 39 and 90-99 are the overseas departments' ranges, not valid here.
PREFIXES = [f"{p:02d}" for p in range(90) if p != 39]


def spread_number(i: int) -> str:
    """The ``i``-th recipient of a send measurement, spread over 89 number prefixes: in one
    block of numbers the SMS-pumping guard rightly blocks the prefix after 500 sends in 10
    minutes, and a run then waited for deliveries of sends answered "blocked"."""
    return f"+336{PREFIXES[i % len(PREFIXES)]}{i // len(PREFIXES):06d}"


def inbound(count: int, conversations: int, start: int = 0) -> list[Inbound]:
    """Messages ``start`` to ``start + count - 1`` of the traffic."""
    return [
        Inbound(f"m{k}", consumer_number(k % conversations), BODIES[k % len(BODIES)])
        for k in range(start, start + count)
    ]


def steady_conversation(k: int, count: int, new: int, existing: int = 0) -> int:
    """The conversation of message ``k`` of a steady load of ``count`` messages, on a system
    that already holds conversations ``0 .. existing - 1``: the ``new`` ones come at a
    steady share, conversation ``existing + c`` opening with message
    ``ceil(c * count / new)`` (one in ten at ten messages each) rather than all first; every
    other message goes to one of the conversations open by then, spread by a
    multiplicative hash (deterministic, so the watcher knows the same traffic)."""
    opened = k * new // count + 1  # new conversations open once message k is in
    c = opened - 1
    if k == -(-c * count // new):  # ceil: message k opens new conversation c
        return existing + c
    return (k * 2654435761) % (existing + opened)


def steady_inbound(
    count: int, new: int, existing: int = 0, start: int = 0, end: int | None = None
) -> list[Inbound]:
    """Messages ``start`` to ``end - 1`` of a steady load of ``count`` messages."""
    return [
        Inbound(
            f"m{k}",
            consumer_number(steady_conversation(k, count, new, existing)),
            BODIES[k % len(BODIES)],
        )
        for k in range(start, count if end is None else end)
    ]


def earlier_inbound(existing: int) -> list[Inbound]:
    """One message into each conversation a steady load finds open (ids ``h…``)."""
    return [Inbound(f"h{c}", consumer_number(c), BODIES[c % len(BODIES)]) for c in range(existing)]


def receive_commands(count: int, conversations: int, start: int = 0) -> list[ReceiveMessage]:
    """The same traffic as the commands a channel adapter would publish for it."""
    return commands_of(inbound(count, conversations, start))


def commands_of(messages: list[Inbound]) -> list[ReceiveMessage]:
    """The commands a channel adapter would publish for these messages."""
    from chainon.domain import commands as cmd
    from chainon.domain.channels import Channel

    return [
        cmd.ReceiveMessage(
            provider=PROVIDER,
            provider_message_id=m.provider_message_id,
            channel=Channel.SMS,
            sender=m.sender,
            recipient=BRAND_NUMBER,
            body=m.body,
        )
        for m in messages
    ]
