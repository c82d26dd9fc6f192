"""RCS → SMS fallback through the whole embedded runtime, with the sandbox playing RBM and
the SMSC: each way an RCS message can go, counted by what the sandbox was handed on each
channel (what the consumer's phone would have been offered)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from chainon.adapters.channels.sandbox import SandboxOutcome
from chainon.core import utcnow
from chainon.domain import commands as cmd
from chainon.domain.addresses import parse_phone
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message import FallbackReason, FallbackState, Message
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import RichContent, SuggestedReply
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, CONSUMER

AGENT = "maison-lumiere_test_agent"
QUESTION = RichContent(
    text="Votre colis arrive demain. Ce créneau vous convient ?",
    suggestions=[
        SuggestedReply(text="Oui", postback_data="slot_ok"),
        SuggestedReply(text="Non", postback_data="slot_change"),
    ],
)
CHOICES = "Répondez 1 pour Oui, 2 pour Non"


@pytest.fixture
def brand(sqlite_runtime: Runtime) -> Brand:
    """RCS first, SMS as its fallback (the default channel order)."""
    return sqlite_runtime.core.register_brand(
        slug="maison-lumiere",
        name="Maison Lumière",
        senders=[(Channel.RCS, AGENT), (Channel.SMS, BRAND_SMS)],
    )


def counts(runtime: Runtime) -> dict[Channel, int]:
    return {channel: len(runtime.provider.sent_on(channel)) for channel in Channel}


async def send(runtime: Runtime, brand: Brand, **options: object) -> cmd.Outcome:
    command = cmd.SendMessage(brand_id=brand.id, to=CONSUMER, rich=QUESTION, **options)
    outcome = await runtime.handle(command)
    assert outcome.message_id is not None
    assert outcome.conversation_id is not None
    return outcome


async def until(
    runtime: Runtime,
    conversation_id: UUID | None,
    message_id: UUID | None,
    done: Callable[[Message], bool],
    within: float = 10.0,
) -> Message:
    assert conversation_id is not None
    assert message_id is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        conversation = await runtime.call(runtime.core.get, Conversation, conversation_id)
        message = conversation.messages.get(message_id)
        if message is not None and done(message):
            return message
        assert loop.time() < deadline, f"not done in {within} s: {message}"
        await asyncio.sleep(0.02)


def delivered(message: Message) -> bool:
    return message.status is MessageStatus.DELIVERED


def past_deadline(runtime: Runtime, deadline: datetime) -> None:
    """Moves the clocks of the core and of the deadline scheduler past ``deadline``."""
    due = deadline + timedelta(seconds=1)

    def clock() -> datetime:
        return max(utcnow(), due)

    runtime.core.clock = clock
    runtime.deadlines.clock = clock


async def settle(runtime: Runtime) -> None:
    """Long enough for a message that should not exist to have been handed over: several
    receipt delays and relay rounds."""
    await asyncio.sleep(0.5)


async def replacement(runtime: Runtime, sent: cmd.Outcome) -> Message:
    """The SMS that replaced the RCS message, once delivered."""
    rcs = await until(
        runtime,
        sent.conversation_id,
        sent.message_id,
        lambda m: m.fallback is not None and m.fallback.replacement_id is not None,
    )
    assert rcs.fallback is not None
    return await until(runtime, sent.conversation_id, rcs.fallback.replacement_id, delivered)


async def test_a_capable_handset_gets_rcs_delivered_and_no_sms(
    sqlite_runtime: Runtime, brand: Brand
) -> None:
    sent = await send(sqlite_runtime, brand)
    assert sent.channel is Channel.RCS
    rcs = await until(sqlite_runtime, sent.conversation_id, sent.message_id, delivered)
    await settle(sqlite_runtime)
    assert counts(sqlite_runtime) == {Channel.RCS: 1, Channel.SMS: 0, Channel.EMAIL: 0}
    (offered,) = sqlite_runtime.provider.sent_on(Channel.RCS)
    assert RichContent.model_validate(offered.rich) == QUESTION  # the chips went as RCS
    assert rcs.fallback is not None
    assert rcs.fallback.state is FallbackState.SETTLED
    contact = await sqlite_runtime.call(
        sqlite_runtime.core.find_contact, brand.id, parse_phone(CONSUMER)
    )
    assert contact is not None
    assert contact.capable_of(Channel.RCS, at=utcnow()) is True


async def test_a_handset_without_rcs_gets_only_the_sms_with_numbered_choices(
    sqlite_runtime: Runtime, brand: Brand
) -> None:
    sqlite_runtime.provider.set_outcome(CONSUMER, SandboxOutcome.NOT_CAPABLE)
    sent = await send(sqlite_runtime, brand)
    sms = await replacement(sqlite_runtime, sent)
    assert sms.channel is Channel.SMS
    assert sms.body.endswith(CHOICES)
    assert sms.fallback_of == sent.message_id
    conversation = await sqlite_runtime.call(
        sqlite_runtime.core.get, Conversation, sent.conversation_id
    )
    assert conversation.messages[sent.message_id].status is MessageStatus.FAILED
    plan = conversation.messages[sent.message_id].fallback
    assert plan is not None
    assert plan.reason is FallbackReason.NOT_CAPABLE
    await settle(sqlite_runtime)
    assert counts(sqlite_runtime) == {Channel.RCS: 0, Channel.SMS: 1, Channel.EMAIL: 0}

    # Known now: the next message goes straight to SMS, without trying RCS again.
    again = await send(sqlite_runtime, brand)
    assert again.channel is Channel.SMS
    await until(sqlite_runtime, again.conversation_id, again.message_id, delivered)
    assert counts(sqlite_runtime) == {Channel.RCS: 0, Channel.SMS: 2, Channel.EMAIL: 0}
    assert sqlite_runtime.provider.sent_on(Channel.SMS)[1].body.endswith(CHOICES)


async def test_an_rcs_send_that_fails_for_good_goes_by_sms(
    sqlite_runtime: Runtime, brand: Brand
) -> None:
    sqlite_runtime.provider.set_outcome(CONSUMER, SandboxOutcome.FAIL, Channel.RCS)
    sent = await send(sqlite_runtime, brand)
    sms = await replacement(sqlite_runtime, sent)
    assert sms.body.endswith(CHOICES)
    conversation = await sqlite_runtime.call(
        sqlite_runtime.core.get, Conversation, sent.conversation_id
    )
    rcs = conversation.messages[sent.message_id]
    assert rcs.status is MessageStatus.FAILED
    assert rcs.reason == "sandbox: told to fail"
    assert rcs.fallback is not None
    assert rcs.fallback.reason is FallbackReason.FAILED
    await settle(sqlite_runtime)
    assert counts(sqlite_runtime) == {Channel.RCS: 0, Channel.SMS: 1, Channel.EMAIL: 0}


async def test_a_silent_rcs_message_is_revoked_when_the_scheduler_finds_it_due_then_sent_by_sms(
    sqlite_runtime: Runtime, brand: Brand
) -> None:
    sqlite_runtime.provider.set_outcome(CONSUMER, SandboxOutcome.SILENT, Channel.RCS)
    sent = await send(sqlite_runtime, brand, fallback_after_seconds=60)
    rcs = await until(
        sqlite_runtime,
        sent.conversation_id,
        sent.message_id,
        lambda m: m.status is MessageStatus.SENT,
    )
    assert rcs.fallback is not None
    enforce = cmd.EnforceFallbackDeadline(
        conversation_id=sent.conversation_id, message_id=sent.message_id
    )
    early = await sqlite_runtime.handle(enforce)
    assert not early.changed  # a minute to go: nothing happens yet
    await settle(sqlite_runtime)
    assert counts(sqlite_runtime) == {Channel.RCS: 1, Channel.SMS: 0, Channel.EMAIL: 0}

    # A minute later, for the core and the scheduler: the scheduler finds the deadline in
    # its read model and hands it to the core, which asks for the revocation.
    past_deadline(sqlite_runtime, rcs.fallback.deadline)
    sms = await replacement(sqlite_runtime, sent)
    assert sms.body.endswith(CHOICES)
    conversation = await sqlite_runtime.call(
        sqlite_runtime.core.get, Conversation, sent.conversation_id
    )
    revoked = conversation.messages[sent.message_id]
    assert revoked.status is MessageStatus.REVOKED
    assert revoked.fallback is not None
    assert revoked.fallback.reason is FallbackReason.DEADLINE
    assert sqlite_runtime.provider.revoked == {revoked.provider_message_id}
    # Enforcing again (a scheduler's second look) sends nothing more.
    assert not (await sqlite_runtime.handle(enforce)).changed
    await settle(sqlite_runtime)
    assert counts(sqlite_runtime) == {Channel.RCS: 1, Channel.SMS: 1, Channel.EMAIL: 0}


async def test_fall_back_now_revokes_a_message_still_on_its_way_and_it_never_arrives(
    sqlite_runtime: Runtime, brand: Brand
) -> None:
    # The handset would take it in 2 s: later than the operator is willing to wait.
    sqlite_runtime.provider.receipt_delay = 2.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = await send(sqlite_runtime, brand)
    await until(
        sqlite_runtime,
        sent.conversation_id,
        sent.message_id,
        lambda m: m.status is MessageStatus.SENT,
    )
    fall_back_now = cmd.EnforceFallbackDeadline(
        conversation_id=sent.conversation_id, message_id=sent.message_id, now=True
    )
    assert (await sqlite_runtime.handle(fall_back_now)).changed
    sqlite_runtime.provider.receipt_delay = 0.05  # for the SMS
    sms = await replacement(sqlite_runtime, sent)
    assert sms.channel is Channel.SMS
    # Past the moment the RCS message would have arrived: the revocation stopped it.
    await asyncio.sleep(max(0.0, started + 2.5 - loop.time()))
    assert sqlite_runtime.provider.delivered == {sms.provider_message_id}
    conversation = await sqlite_runtime.call(
        sqlite_runtime.core.get, Conversation, sent.conversation_id
    )
    assert conversation.messages[sent.message_id].status is MessageStatus.REVOKED
    assert counts(sqlite_runtime) == {Channel.RCS: 1, Channel.SMS: 1, Channel.EMAIL: 0}


async def test_an_rcs_message_delivered_before_its_deadline_is_not_sent_again(
    sqlite_runtime: Runtime, brand: Brand
) -> None:
    sent = await send(sqlite_runtime, brand, fallback_after_seconds=60)
    rcs = await until(sqlite_runtime, sent.conversation_id, sent.message_id, delivered)
    assert rcs.fallback is not None
    past_deadline(sqlite_runtime, rcs.fallback.deadline)
    await asyncio.sleep(1.0)  # two of the scheduler's polls: it finds nothing to do
    enforce = cmd.EnforceFallbackDeadline(
        conversation_id=sent.conversation_id, message_id=sent.message_id
    )
    assert not (await sqlite_runtime.handle(enforce)).changed
    await settle(sqlite_runtime)
    assert counts(sqlite_runtime) == {Channel.RCS: 1, Channel.SMS: 0, Channel.EMAIL: 0}
    assert sqlite_runtime.provider.revoked == set()
    conversation = await sqlite_runtime.call(
        sqlite_runtime.core.get, Conversation, sent.conversation_id
    )
    message = conversation.messages[sent.message_id]
    assert message.status is MessageStatus.DELIVERED
    assert message.fallback is not None
    assert message.fallback.state is FallbackState.SETTLED


async def test_the_sms_answer_2_picks_the_second_suggestion(
    sqlite_runtime: Runtime, brand: Brand
) -> None:
    sqlite_runtime.provider.set_outcome(CONSUMER, SandboxOutcome.NOT_CAPABLE)
    sent = await send(sqlite_runtime, brand)
    await replacement(sqlite_runtime, sent)
    answer = await sqlite_runtime.provider.inject_inbound(
        sender=CONSUMER, recipient=BRAND_SMS, body="2"
    )
    recorded = await sqlite_runtime.recorded(answer)
    assert recorded is not None
    assert recorded.conversation_id == sent.conversation_id
    conversation = await sqlite_runtime.call(
        sqlite_runtime.core.get, Conversation, sent.conversation_id
    )
    assert recorded.message_id is not None
    assert conversation.choices == {recorded.message_id: ("slot_change", "Non")}
    events = await sqlite_runtime.call(
        lambda: list(sqlite_runtime.core.events.get(sent.conversation_id))
    )
    (chosen,) = [e for e in events if isinstance(e, Conversation.SuggestionChosen)]
    assert chosen.in_reply_to == sent.message_id  # the RCS message's suggestion
