"""The demo's bot scene: a consumer writes LIVRAISON, a bot confirms the address and has
them pick a delivery slot from numbered choices over SMS, then hands the conversation to
the delivery team; the agent finds it in the queue with what the bot collected.

The flow is the shape of ``examples/flows/delivery-details.yaml``, carried here because the
examples are not part of the installed package. Every step is the runtime's own decision
(the keyword trigger, the reading of each answer, the hand-off); the scene only shows it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console

from chainon.demo_polling import show_timeline, teller
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import Direction
from chainon.errors import DemoFailed
from chainon.flows import publish
from chainon.projections import agent_queue
from chainon.runtime import Runtime

BOT_CONSUMER = "+33687654321"  # nobody else of the story
FLOW = """
name: delivery-details
settings:
  timeout: {after_minutes: 240, action: handoff}
  handoff: {team: delivery}
triggers:
  keywords: [LIVRAISON]
steps:
  - id: confirm_address
    type: ask
    text: Votre colis arrive demain. Livrons-nous bien à l'adresse de votre commande ? OUI ou NON.
    answer: {kind: yes_no}
    store_as: address_confirmed
    next: pick_slot
  - id: pick_slot
    type: ask
    text: Quel créneau vous convient ?
    answer:
      kind: choice
      choices:
        - {value: morning, label: Matin 8h-12h}
        - {value: afternoon, label: Après-midi 13h-18h}
        - {value: evening, label: Soir 18h-21h}
    store_as: delivery_slot
  - id: to_delivery
    type: handoff
    text: Merci ! Un conseiller confirme votre livraison dans quelques instants.
    summary: "Créneau : {{ delivery_slot }} ; adresse confirmée : {{ address_confirmed }}"
"""


async def bot_scene(rt: Runtime, out: Console, brand: Brand) -> None:
    say = teller(out)
    say("\nA bot collects a delivery slot", "bold")
    published, _ = await rt.call(publish, rt.core, brand.id, FLOW)
    say(
        f"✓ flow {published.name} v{published.version} published "
        f"(sha256 {published.sha256[:12]}…), started by the keyword LIVRAISON",
        "green",
    )
    number = brand.senders[Channel.SMS][0]
    conversation_id = None
    for words in ("Livraison", "oui", "2"):
        say(f"\n{BOT_CONSUMER} writes: “{words}”")
        sent = await rt.provider.inject_inbound(sender=BOT_CONSUMER, recipient=number, body=words)
        recorded = await rt.recorded(sent)
        if recorded is None or recorded.conversation_id is None:
            raise DemoFailed(f"“{words}” was not recorded")
        conversation_id = recorded.conversation_id
        conversation = await rt.call(rt.core.get, Conversation, conversation_id)
        answer = list(conversation.messages.values())[-1]
        if answer.direction is not Direction.OUTBOUND:
            raise DemoFailed(f"the bot did not answer “{words}”")
        say(f"🤖 the bot, by SMS: “{answer.body}”", "cyan")
    assert conversation_id is not None
    item = await _queued(rt, brand)
    if item.handoff is None:
        raise DemoFailed("the hand-off left no summary in the queue")
    say(
        f"\n✓ handed off: in team {item.team}'s queue, where camille reads the bot's summary: "
        f"“{item.handoff.summary}”",
        "green",
    )
    answers = ", ".join(f"{k}={v}" for k, v in item.handoff.answers.items())
    say(f"  the answers are on the contact's CRM profile too: {answers}", "dim")
    await show_timeline(rt, out, brand, conversation_id, BOT_CONSUMER)


async def _queued(rt: Runtime, brand: Brand) -> agent_queue.QueueItem:
    """The delivery team's queue, once the views have the hand-off."""
    for _ in range(200):
        items = await rt.call(
            agent_queue.waiting,
            rt.views.store,
            brand.id,
            now=datetime.now(UTC),
            team="delivery",
        )
        if items:
            return items[0]
        await asyncio.sleep(0.05)
    raise DemoFailed("the hand-off never reached the delivery team's queue")
