"""The demo's STOP scene: a consumer who opted in on the shop's web form answers "Stop";
the ledger records it with its evidence, one confirmation goes back, and the next
marketing message is blocked with its reason, while a reply to the consumer still goes.

Every step is the runtime's own decision (the keyword reading, the confirmation, the send
policy); the scene only shows what was recorded.
"""

from __future__ import annotations

from uuid import UUID

from rich.console import Console

from chainon.demo_polling import teller, until_delivered
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import parse_phone
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.consent import Consent, EvidenceSource, Purpose
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import Direction, MessageStatus
from chainon.errors import DemoFailed
from chainon.runtime import Runtime

WEB_FORM = "Case « Recevoir les offres » cochée sur maison-lumiere.example/compte"
PROMO = "Maison Lumière : -20 % sur les bougies ce week-end ! STOP au 0939000002"


async def stop_scene(rt: Runtime, out: Console, brand: Brand, consumer: str) -> None:
    say = teller(out)
    say("\nA consumer says STOP", "bold")
    contact = await rt.call(rt.core.find_contact, brand.id, parse_phone(consumer))
    if contact is None:
        raise DemoFailed(f"{consumer} is not a contact of {brand.name}")
    await rt.handle(
        cmd.GrantConsent(
            brand_id=brand.id,
            contact_id=contact.id,
            purpose=Purpose.MARKETING,
            source=EvidenceSource.WEB_FORM,
            text=WEB_FORM,
            actor="maison-lumiere.example",
        )
    )
    say(f"✓ {consumer} opted in to marketing on the shop's web form (evidence kept)", "green")

    say(f"\n{consumer} writes: “Stop.”")
    stop = await rt.provider.inject_inbound(
        sender=consumer, recipient=brand.senders[Channel.SMS][0], body="Stop."
    )
    recorded = await rt.recorded(stop)
    if recorded is None or recorded.conversation_id is None or recorded.message_id is None:
        raise DemoFailed("the STOP was not recorded")
    conversation_id = recorded.conversation_id
    confirmation = await rt.call(_answer_to, rt, conversation_id, recorded.message_id)
    delivered = await until_delivered(rt, conversation_id, confirmation)
    say("✓ read as the keyword STOP: marketing revoked on every channel of the brand", "green")
    say(f"✓ one confirmation, delivered: “{delivered.body}”", "green")

    say(f"\nMaison Lumière sends a promotion to {consumer}: “{PROMO}”")
    promo = await rt.handle(
        cmd.SendMessage(brand_id=brand.id, to=consumer, body=PROMO, purpose=Purpose.MARKETING)
    )
    if promo.status is not MessageStatus.BLOCKED:
        raise DemoFailed(f"the promotion was not blocked (it is {promo.status})")
    say(f"⊘ blocked: {promo.reason} — kept in the conversation, never sent", "yellow")

    body = "Bien noté, vous ne recevrez plus nos offres. Bonne journée !"
    reply = await rt.handle(
        cmd.Reply(brand_id=brand.id, conversation_id=conversation_id, body=body)
    )
    if reply.message_id is None:
        raise DemoFailed("the reply queued no message")
    await until_delivered(rt, conversation_id, reply.message_id)
    say(f"✓ a reply to {consumer}'s own message still goes: “{body}” delivered", "green")
    ledger = await rt.call(rt.core.find, Consent, ids.consent_id(brand.id, contact.id))
    changes = 0 if ledger is None else len(ledger.changes)
    say(
        f"  the ledger holds {changes} changes, each with its evidence: "
        f"chainon consent export --brand {brand.slug}",
        "dim",
    )


def _answer_to(rt: Runtime, conversation_id: UUID, inbound_id: UUID) -> UUID:
    """The message the core queued in answer to ``inbound_id``: the first outbound after it."""
    conversation = rt.core.get(Conversation, conversation_id)
    after = False
    for message in conversation.messages.values():
        if message.id == inbound_id:
            after = True
        elif after and message.direction is Direction.OUTBOUND:
            return message.id
    raise DemoFailed("the STOP got no confirmation")
