"""The demo brand that ``chainon serve`` offers, and the two-minute story of ``chainon demo``.

The story runs the real core, workers and sandbox provider in a throw-away directory,
so what it shows (a delivery receipt landing, a conversation resolved) is what the
embedded mode does, only faster.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import UUID

from rich.console import Console
from rich.text import Text

from chainon.core import Core
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from chainon.timeline import status_history, timeline
from domain import commands as cmd
from domain import ids
from domain.addresses import parse_phone
from domain.brand import Brand
from domain.channels import Channel
from domain.conversation import Conversation, Message
from domain.errors import Conflict
from domain.message_status import MessageStatus

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Boutique"
DEMO_SENDERS = [(Channel.SMS, "+33939000001"), (Channel.EMAIL, "hello@demo.chainon.example")]
DEMO_HELP = (
    "Demo Boutique : répondez STOP pour ne plus recevoir nos messages, écrivez-nous à "
    "hello@demo.chainon.example. Reply STOP to opt out; write to hello@demo.chainon.example."
)

STORY_SLUG = "maison-lumiere"
STORY_NUMBER = "09 39 00 00 02"  # a Time2chat-style conversational long number
CONSUMER = "+33612345678"
RECEIPT_TIMEOUT = 10.0  # seconds; the sandbox answers in a fraction of that


class DemoFailed(Exception):
    """The story cannot be told: a directory in use, or a receipt that never came."""


def ensure_demo_brand(core: Core, *, label: str | None = None) -> tuple[Brand, str]:
    """The demo brand, registered when missing, with a fresh API key.

    A new key each time, because keys are stored hashed: an old one cannot be shown again.
    """
    brand = core.find(Brand, ids.brand_id(DEMO_SLUG))
    if brand is None:
        try:
            brand = core.register_brand(
                slug=DEMO_SLUG, name=DEMO_NAME, senders=DEMO_SENDERS, help_text=DEMO_HELP
            )
        except Conflict:
            # Another process may have registered it between our look and our write.
            brand = core.find(Brand, ids.brand_id(DEMO_SLUG))
            if brand is None:
                raise
    key = core.issue_api_key(brand.id, label or f"serve-{core.clock():%Y%m%dT%H%M%SZ}")
    return core.get(Brand, brand.id), key


def story_settings(data_dir: Path) -> Settings:
    """Embedded mode in ``data_dir``, with receipts and dispatch fast enough to watch."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise DemoFailed(f"the demo needs an empty directory; {data_dir} holds files already")
    return Settings(
        data_dir=data_dir,
        store=StoreKind.SQLITE,
        sandbox_receipt_delay=0.3,
        sandbox_outcome="deliver",
        relay_poll_interval=0.05,
    )


async def tell_story(settings: Settings, console: Console) -> None:
    rt = Runtime(settings)
    await rt.start()
    try:
        await _story(rt, console)
        # The read models are part of the story: leave them caught up with the store.
        await rt.call(rt.views.run_until_idle)
    finally:
        await rt.stop()
        rt.close()


async def _story(rt: Runtime, out: Console) -> None:
    def say(line: str, style: str = "") -> None:
        out.print(Text(line, style=style), soft_wrap=True)

    brand = await rt.call(
        rt.core.register_brand,
        slug=STORY_SLUG,
        name="Maison Lumière",
        senders=[(Channel.SMS, STORY_NUMBER)],
        help_text="Maison Lumière : répondez STOP pour ne plus recevoir nos messages.",
    )
    number = brand.senders[Channel.SMS][0]
    say(f"Maison Lumière texts from {STORY_NUMBER}, stored as {number}.", "bold")

    say(f"\n{CONSUMER} writes: “Bonjour, ma commande n'est pas arrivée”")
    first = await rt.provider.inject_inbound(
        sender=CONSUMER, recipient=number, body="Bonjour, ma commande n'est pas arrivée"
    )
    await rt.recorded(first)
    conversation_id = await rt.call(_current_conversation, rt.core, brand.id)
    say(f"✓ conversation opened: {conversation_id}", "green")

    for command in (
        cmd.AssignConversation(
            brand_id=brand.id, conversation_id=conversation_id, agent="camille", team="support"
        ),
        cmd.TagConversation(brand_id=brand.id, conversation_id=conversation_id, add=["livraison"]),
    ):
        await rt.handle(command)
    say("✓ assigned to camille (team support), tagged livraison", "green")

    body = "Bonjour ! Je suis Camille. Votre colis part ce soir : livraison demain avant 13 h."
    reply = await rt.handle(
        cmd.Reply(brand_id=brand.id, conversation_id=conversation_id, body=body)
    )
    if reply.message_id is None:
        raise DemoFailed("the reply queued no message")
    say(f"\ncamille replies: “{body}”")
    say(
        "… the relay and the dispatch worker hand it to the sandbox, which sends a receipt back",
        "dim",
    )
    delivered = await _until_delivered(rt, conversation_id, reply.message_id)
    out.print(Text("✓ ").append_text(status_history(delivered)), soft_wrap=True)

    say(f"\n{CONSUMER} writes: “Merci !”")
    thanks = await rt.provider.inject_inbound(sender=CONSUMER, recipient=number, body="Merci !")
    await rt.recorded(thanks)
    await rt.handle(
        cmd.ResolveConversation(brand_id=brand.id, conversation_id=conversation_id, by="camille")
    )
    say("✓ camille resolves the conversation\n", "green")

    conversation = await rt.call(rt.core.conversation_of, brand.id, conversation_id)
    events = await rt.call(lambda: list(rt.core.events.get(conversation_id)))
    out.print(timeline(conversation, events, brand=brand.name, contact=CONSUMER))
    say("\nEvery line above is a stored event: replay them and you get the same story.", "dim")


def _current_conversation(core: Core, brand_id: UUID) -> UUID:
    contact = core.find_contact(brand_id, parse_phone(CONSUMER))
    conversation_id = None if contact is None else contact.current_conversation_id
    if conversation_id is None:
        raise DemoFailed("the consumer's message opened no conversation")
    return conversation_id


async def _until_delivered(rt: Runtime, conversation_id: UUID, message_id: UUID) -> Message:
    """Polls the conversation until the reply's receipt lands; fails loudly when it does not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECEIPT_TIMEOUT
    while True:
        conversation: Conversation = await rt.call(rt.core.get, Conversation, conversation_id)
        message = conversation.message(message_id)
        if message.status is MessageStatus.DELIVERED:
            return message
        if message.status.is_final:
            raise DemoFailed(f"the reply ended {message.status.value}: {message.reason}")
        if loop.time() > deadline:
            raise DemoFailed(
                f"no delivery receipt within {RECEIPT_TIMEOUT:.0f} s "
                f"(the reply is still {message.status.value})"
            )
        await asyncio.sleep(0.05)
