"""The inbound traffic every inbound measurement replays: N messages over M conversations.

Message ``k`` comes from consumer ``k mod M`` to one brand number, so each conversation
gets N/M messages, interleaved as a burst from many consumers arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def inbound(count: int, conversations: int) -> list[Inbound]:
    return [
        Inbound(f"m{k}", consumer_number(k % conversations), BODIES[k % len(BODIES)])
        for k in range(count)
    ]
