"""The demo brand that ``chainon serve`` offers, and the two-minute story of ``chainon demo``.

The story runs the real core, workers and sandbox provider in a throw-away directory,
so what it shows (a delivery receipt landing, a conversation resolved, an RCS message
revoked and sent again by SMS) is what the embedded mode does, only faster.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from rich.console import Console
from rich.text import Text

from chainon.adapters.channels.sandbox import SandboxOutcome
from chainon.auth import split_api_key
from chainon.core import Core
from chainon.demo_campaign import campaign_scene
from chainon.demo_consent import stop_scene
from chainon.demo_flow import bot_scene
from chainon.demo_polling import (
    RECEIPT_TIMEOUT,
    settle,
    show_timeline,
    teller,
    until,
    until_delivered,
)
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import parse_phone
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.errors import Conflict
from chainon.domain.message import FallbackState
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import RichContent, SuggestedReply
from chainon.errors import DemoFailed
from chainon.private_files import write_private
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from chainon.terminal import status_history
from chainon.webhooks import endpoints
from chainon.webhooks.local_receiver import LocalReceiver

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Boutique"
DEMO_SENDERS = [
    (Channel.RCS, "demo-boutique_sbx_agent"),  # an RBM agent id: RCS first, SMS as fallback
    (Channel.SMS, "+33939000001"),
    (Channel.EMAIL, "hello@demo.chainon.example"),
]
DEMO_HELP = (
    "Demo Boutique : répondez STOP pour ne plus recevoir nos messages, écrivez-nous à "
    "hello@demo.chainon.example. Reply STOP to opt out; write to hello@demo.chainon.example."
)

STORY_SLUG = "maison-lumiere"
STORY_NUMBER = "09 39 00 00 02"  # a Time2chat-style conversational long number
STORY_AGENT = "maison-lumiere_sbx_agent"  # its RCS agent, as RBM names agents
CONSUMER = "+33612345678"
RCS_CONSUMER = "+33698765432"  # whose phone never acknowledges RCS in the story
# The shortest deadline a brand may set; the story does not sit through it (see below).
FALLBACK_SECONDS = 60
QUESTION = RichContent(
    text="Votre commande 4821 est prête. Quand souhaitez-vous être livré ?",
    suggestions=[
        SuggestedReply(text="Aujourd'hui", postback_data="delivery_today"),
        SuggestedReply(text="Demain", postback_data="delivery_tomorrow"),
    ],
)


DEMO_KEY_FILE = "demo-api-key"


@dataclass(frozen=True)
class DemoKey:
    brand: Brand
    path: Path  # where the demo brand's key is kept (mode 0600)
    issued: str | None  # the key, when this start issued it; None when the file had it


def ensure_demo_key(core: Core, data_dir: Path) -> DemoKey:
    """The demo brand, registered when missing, and its one API key, kept in ``data_dir``.

    Keys are stored hashed, so the file is the only place the key can be read again; a
    start that finds it issues nothing (a new key per start left every old one valid).
    A key in the file that no longer opens the brand (revoked) is replaced.
    """
    brand = _demo_brand(core)
    path = data_dir / DEMO_KEY_FILE
    if path.is_file():
        kept = core.api_keys.authenticate(path.read_text(encoding="utf-8").strip())
        if kept is not None and kept.id == brand.id:
            return DemoKey(brand, path, None)
        key = core.api_keys.issue(brand.id, "demo")
        write_private(path, key, replace=True)
        return DemoKey(core.get(Brand, brand.id), path, key)
    key = core.api_keys.issue(brand.id, "demo")
    try:
        write_private(path, key, replace=False)
    except FileExistsError:
        # Another start wrote its key between our look and our write: one key, theirs.
        key_id = split_api_key(key)
        assert key_id is not None
        core.api_keys.revoke(brand.id, key_id)
        return DemoKey(core.get(Brand, brand.id), path, None)
    return DemoKey(core.get(Brand, brand.id), path, key)


def _demo_brand(core: Core) -> Brand:
    brand = core.find(Brand, ids.brand_id(DEMO_SLUG))
    if brand is not None:
        return brand
    try:
        return core.register_brand(
            slug=DEMO_SLUG, name=DEMO_NAME, senders=DEMO_SENDERS, help_text=DEMO_HELP
        )
    except Conflict:
        # Another process may have registered it between our look and our write.
        found = core.find(Brand, ids.brand_id(DEMO_SLUG))
        if found is None:
            raise
        return found


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
        webhooks_allow_private=True,  # the story's receiver listens on 127.0.0.1
        webhooks_poll_interval=0.05,
    )


async def tell_story(settings: Settings, console: Console) -> None:
    rt = Runtime(settings)
    await rt.start()
    try:
        with LocalReceiver() as receiver:
            await _story(rt, console, receiver)
        await settle(rt)
        # The read models are part of the story: leave them caught up with the store.
        await rt.call(rt.views.run_until_idle)
    finally:
        await rt.stop()
        rt.close()


async def _story(rt: Runtime, out: Console, receiver: LocalReceiver) -> None:
    say = teller(out)

    brand = await rt.call(
        rt.core.register_brand,
        slug=STORY_SLUG,
        name="Maison Lumière",
        senders=[(Channel.SMS, STORY_NUMBER), (Channel.RCS, STORY_AGENT)],
        help_text="Maison Lumière : répondez STOP pour ne plus recevoir nos messages.",
    )
    number = brand.senders[Channel.SMS][0]
    say(
        f"Maison Lumière texts from {STORY_NUMBER}, stored as {number}, "
        f"and has the RCS agent {STORY_AGENT}.",
        "bold",
    )

    hook = await rt.call(
        endpoints.add,
        rt.core,
        brand.id,
        receiver.url,
        ["message.received", "message.status"],
        "the shop's backend",
        allow_private=True,
        box=rt.secrets,
    )
    receiver.secret = hook.secret
    say(f"Its shop backend takes signed webhooks at {receiver.url} (secret {hook.secret[:12]}…)")

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
    delivered = await until_delivered(rt, conversation_id, reply.message_id)
    out.print(Text("✓ ").append_text(status_history(delivered)), soft_wrap=True)

    say(f"\n{CONSUMER} writes: “Merci !”")
    thanks = await rt.provider.inject_inbound(sender=CONSUMER, recipient=number, body="Merci !")
    await rt.recorded(thanks)
    await rt.handle(
        cmd.ResolveConversation(brand_id=brand.id, conversation_id=conversation_id, by="camille")
    )
    say("✓ camille resolves the conversation\n", "green")

    await _show_webhooks(out, receiver)
    await show_timeline(rt, out, brand, conversation_id, CONSUMER)
    await _fallback_scene(rt, out, brand)
    await stop_scene(rt, out, brand, CONSUMER)
    await campaign_scene(rt, out, brand, CONSUMER)
    await bot_scene(rt, out, brand)
    say("\nEvery line above is a stored event: replay them and you get the same story.", "dim")


async def _show_webhooks(out: Console, receiver: LocalReceiver) -> None:
    """What the brand's backend was told, as it arrived: one line per webhook."""
    deadline = asyncio.get_running_loop().time() + RECEIPT_TIMEOUT
    while len(receiver.received()) < 5:  # received, queued, sent, delivered, received
        if asyncio.get_running_loop().time() > deadline:
            raise DemoFailed("the shop backend did not get its webhooks")
        await asyncio.sleep(0.05)
    out.print(Text("The shop backend received, signature verified:", style="bold"))
    for webhook_id, payload, verified in receiver.received():
        status = payload["data"].get("status")
        what = payload["type"] + (f" {status}" if status else "")
        mark = "✓" if verified else "✗"
        out.print(Text(f"  {mark} {what:<24} webhook-id {webhook_id}"), soft_wrap=True)
    out.print()


async def _fallback_scene(rt: Runtime, out: Console, brand: Brand) -> None:
    """A rich RCS message that is not delivered in time: revoked, then sent by SMS with
    numbered choices, delivered, and answered "2" by SMS."""

    say = teller(out)

    say("\nRCS first, SMS when RCS does not arrive in time", "bold")
    rt.provider.set_outcome(RCS_CONSUMER, SandboxOutcome.SILENT, Channel.RCS, brand_id=brand.id)
    say(f"(the sandbox is told that {RCS_CONSUMER}'s phone never acknowledges RCS)", "dim")
    sent = await rt.handle(
        cmd.SendMessage(
            brand_id=brand.id,
            to=RCS_CONSUMER,
            rich=QUESTION,
            fallback_after_seconds=FALLBACK_SECONDS,
        )
    )
    if sent.message_id is None or sent.conversation_id is None:
        raise DemoFailed("the RCS message was not queued")
    conversation_id, rcs_id = sent.conversation_id, sent.message_id
    chips = "  ".join(f"[{s.text}]" for s in QUESTION.suggestions)
    say(f"\nMaison Lumière sends by {sent.channel}: “{QUESTION.text}”  {chips}")
    rcs = await until(rt, conversation_id, rcs_id, lambda m: m.status is not MessageStatus.QUEUED)
    if rcs.fallback is None:
        raise DemoFailed("the RCS message has no fallback plan")
    deadline = f"{rcs.fallback.deadline.astimezone():%H:%M:%S}"
    say(
        f"✓ RCS {rcs.status.value}; it falls back to SMS unless delivered by {deadline} "
        f"({FALLBACK_SECONDS} s, the shortest deadline)",
        "green",
    )

    # The scheduler would send this at the deadline; the story does not wait a minute, so
    # an operator says "fall back now" (the same command, not waiting for the deadline).
    say("\nThe demo does not wait a minute: an operator says “fall back now”.")
    await rt.handle(
        cmd.EnforceFallbackDeadline(conversation_id=conversation_id, message_id=rcs_id, now=True)
    )
    say("… the RCS message is revoked first, so that the consumer never gets both", "dim")
    revoked = await until(
        rt,
        conversation_id,
        rcs_id,
        lambda m: m.fallback is not None and m.fallback.state is not FallbackState.REVOKING,
        within=RECEIPT_TIMEOUT,
        allow_final=True,
    )
    plan = revoked.fallback
    if plan is None or plan.replacement_id is None:
        raise DemoFailed(f"the RCS message was not replaced (it is {revoked.status.value})")
    out.print(Text("✓ RCS ").append_text(status_history(revoked)), soft_wrap=True)
    sms = await until_delivered(rt, conversation_id, plan.replacement_id)
    say(f"✓ sent by SMS instead, with numbered choices:\n  “{sms.body}”", "green")
    out.print(Text("✓ SMS ").append_text(status_history(sms)), soft_wrap=True)

    say(f"\n{RCS_CONSUMER} answers by SMS: “2”")
    answer = await rt.provider.inject_inbound(
        sender=RCS_CONSUMER, recipient=brand.senders[Channel.SMS][0], body="2"
    )
    recorded = await rt.recorded(answer)
    conversation = await rt.call(rt.core.conversation_of, brand.id, conversation_id)
    answer_id = None if recorded is None else recorded.message_id
    chosen = None if answer_id is None else conversation.choices.get(answer_id)
    if chosen is None:
        raise DemoFailed("the reply “2” was not read as a choice")
    postback, label = chosen
    say(
        f"✓ read as the second suggestion: “{label}” (postback {postback}), "
        "as if it had been tapped on RCS\n",
        "green",
    )
    await show_timeline(rt, out, brand, conversation_id, RCS_CONSUMER)


def _current_conversation(core: Core, brand_id: UUID) -> UUID:
    contact = core.find_contact(brand_id, parse_phone(CONSUMER))
    conversation_id = None if contact is None else contact.current_conversation_id
    if conversation_id is None:
        raise DemoFailed("the consumer's message opened no conversation")
    return conversation_id
