"""A cached conversation drops what its old settled messages said (issue 18: memory per
cached conversation bounded), and no decision notices: the same commands through a core
that compacts after every unit of work and through a core that replays every
conversation from the store answer the same and store the same events."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from chainon.api.conversation_pages import Order, read_page
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_memory import compact, settled
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import RichContent
from chainon.domain.routing_rules import situation_of
from tests.unit.test_last_offer import QUESTION, T0, opened, queue, receive
from tests.unit.test_long_conversation import NoScan

BRAND_SMS = "+33939000001"
AGENT = "maison-agent"
CONSUMERS = ("+33612345678", "+33698765432")
TEXTS = ("Bonjour, ma commande ?", "2", "Matin", "Merci !", "AIDE", "ok")
RICH = RichContent.model_validate(
    {
        "text": "Votre livraison arrive demain. Quel créneau ?",
        "suggestions": [
            {"kind": "reply", "text": "Matin", "postback_data": "slot=am"},
            {"kind": "reply", "text": "Après-midi", "postback_data": "slot=pm"},
        ],
    }
)
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# The domain rule on its own


def test_old_settled_messages_lose_their_content_and_keep_what_decisions_read() -> None:
    conversation = opened()
    first = receive(conversation, "une question")
    offer = queue(conversation, Channel.RCS, body=QUESTION.text or "", rich=QUESTION)
    for k in range(6):
        receive(conversation, f"message {k}")
    assert compact(conversation, keep=2) == 0  # the offer waits; the words are read back
    held = conversation.messages[first]
    assert held.body == "une question"
    assert not held.compacted
    assert not settled(conversation.messages[offer])  # queued: it may still fall back

    for k in range(30):  # more than the routing rules read back
        receive(conversation, f"encore {k}")
    compact(conversation, keep=2)
    old = conversation.messages[first]
    assert old.compacted
    assert old.body == ""
    assert old.history == []
    assert old.status is MessageStatus.RECEIVED
    assert old.channel is Channel.SMS
    assert not conversation.messages[offer].compacted  # still the last offer, still queued
    assert conversation.order[0] == first  # every message keeps its place


def test_a_call_with_nothing_aged_looks_at_nothing() -> None:
    conversation = opened()
    for k in range(40):
        receive(conversation, f"message {k}")
    assert compact(conversation, keep=5) > 0
    assert compact(conversation, keep=5) == 0
    assert conversation.aged_until == 35


def test_a_conversation_of_sends_with_few_replies_is_compacted_without_a_scan() -> None:
    """The consumer's latest words are kept as they come (``written_lately``): neither the
    routing rules nor the compaction walk back through thousands of sends to find them."""
    conversation = opened()
    words = [receive(conversation, f"question {k}") for k in range(3)]
    for _ in range(300):
        sent = queue(conversation, Channel.SMS)
        conversation.mark_sent(sent, provider="smpp", provider_message_id=str(sent), at=T0)
        conversation.record_outcome(sent, MessageStatus.DELIVERED, at=T0)
    conversation.messages = NoScan(conversation.messages)
    assert compact(conversation, keep=5) == 295  # every aged send; the three questions stay
    assert [conversation.messages[i].body for i in words] == [f"question {k}" for k in range(3)]
    situation = situation_of(conversation, {})
    assert situation.texts == ("question 0", "question 1", "question 2")
    assert conversation.aged_waiting == words  # looked at again as the next ones age
    queue(conversation, Channel.SMS)
    assert compact(conversation, keep=5) == 1  # the send that aged past the newest five


# The same commands through a compacting core and a replaying one


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Run:
    """One core and what its answers named, so that a step can refer to "the third message
    sent" whatever id that core gave it."""

    def __init__(self, cache: bool) -> None:
        env = {"AGGREGATE_CACHE_MAXSIZE": "1000", "CONVERSATION_HELD_IN_FULL": "2"}
        self.clock = Clock()
        self.core = Core(env if cache else {}, clock=self.clock)
        brand = self.core.register_brand(
            slug="acme", name="Acme", senders=[(Channel.RCS, AGENT), (Channel.SMS, BRAND_SMS)]
        )
        self.brand_id = brand.id
        self.sent: list[cmd.Outcome] = []
        self.answers: list[Any] = []

    def step(self, step: tuple[Any, ...]) -> None:
        self.clock.now += timedelta(seconds=step[-1])
        command = self.command(step)
        if command is None:
            return
        try:
            outcome = self.core.handle(command)
        except Exception as error:  # the refusal is part of what is compared
            self.answers.append((type(error).__name__, str(error)))
            return
        self.answers.append(outcome.model_dump(mode="json"))
        if isinstance(command, cmd.SendMessage) and outcome.message_id is not None:
            self.sent.append(outcome)

    def command(self, step: tuple[Any, ...]) -> cmd.Command | None:
        kind = step[0]
        if kind == "in":
            _, consumer, text, provider_id, _ = step
            return cmd.ReceiveMessage(
                provider="sandbox",
                provider_message_id=f"in-{provider_id}",
                channel=Channel.SMS,
                sender=CONSUMERS[consumer],
                recipient=BRAND_SMS,
                body=TEXTS[text],
            )
        if kind == "send":
            _, consumer, rich, _ = step
            to = CONSUMERS[consumer]
            if rich:
                return cmd.SendMessage(brand_id=self.brand_id, to=to, rich=RICH)
            return cmd.SendMessage(brand_id=self.brand_id, to=to, body="Votre colis est parti.")
        if not self.sent:
            return None
        sent = self.sent[step[1] % len(self.sent)]
        assert sent.conversation_id is not None
        assert sent.message_id is not None
        where = {"conversation_id": sent.conversation_id, "message_id": sent.message_id}
        provider = "rcs" if sent.channel is Channel.RCS else "smpp"
        if kind == "sent":
            return cmd.RecordSent(**where, provider=provider, provider_message_id=_pid(sent))
        if kind == "receipt":
            _, _, status, read, _ = step
            return cmd.RecordReceipt(
                provider=provider,
                provider_message_id=_pid(sent),
                status=MessageStatus.DELIVERED if read else status,
                read=read,
            )
        if kind == "failure":
            return cmd.RecordSendFailure(**where, reason="not_capable")
        if kind == "fallback":
            return cmd.EnforceFallbackDeadline(**where, now=True)
        if kind == "revocation":
            return cmd.RecordRevocation(**where, result=step[2])
        return cmd.EnforceReceiptDeadline(**where)

    def stored(self) -> list[Any]:
        notifications = self.core.recorder.select_notifications(start=1, limit=1_000_000)
        events = (self.core.mapper.to_domain_event(n) for n in notifications)
        # eventsourcing stamps some events with the wall clock: when is not what is compared
        return [(type(e).__qualname__, _but_when(vars(e))) for e in events]


def _but_when(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != "timestamp"}


def _pid(sent: cmd.Outcome) -> str:
    return f"p-{sent.message_id}"


seconds = st.integers(min_value=0, max_value=400)
index = st.integers(min_value=0, max_value=50)
steps = st.one_of(
    st.tuples(
        st.just("in"),
        st.integers(0, 1),
        st.integers(0, len(TEXTS) - 1),
        st.integers(0, 40),  # a provider id seen before is a duplicate
        seconds,
    ),
    st.tuples(st.just("send"), st.integers(0, 1), st.booleans(), seconds),
    st.tuples(st.just("sent"), index, seconds),
    st.tuples(
        st.just("receipt"),
        index,
        st.sampled_from([MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED]),
        st.booleans(),
        seconds,
    ),
    st.tuples(st.sampled_from(["failure", "fallback", "deadline"]), index, seconds),
    st.tuples(
        st.just("revocation"),
        index,
        st.sampled_from(["revoked", "already_delivered", "failed"]),
        seconds,
    ),
)


class Canonical:
    """Ids as the order they first appear in: each core draws its own message ids."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, UUID):
            return self.name(str(value))
        if isinstance(value, str):
            return UUID_TEXT.sub(lambda m: self.name(m.group()), value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        if isinstance(value, Enum):
            return value.value
        return value

    def name(self, text: str) -> str:
        return self.names.setdefault(text, f"id{len(self.names)}")


def compare(script: list[tuple[Any, ...]]) -> Run:
    compacting, replaying = Run(cache=True), Run(cache=False)
    for step in script:
        compacting.step(step)
        replaying.step(step)
    one, other = Canonical(), Canonical()
    assert one(compacting.answers) == other(replaying.answers)
    assert one(compacting.stored()) == other(replaying.stored())
    return compacting


# A round of a conversation as it usually goes (a message, an answer sent and delivered)
rounds = st.builds(
    lambda consumer, text, rich, status, read, extra: [
        ("in", consumer, text, 1000 + len(TEXTS) * consumer + text, 5),
        ("send", consumer, rich, 5),
        ("sent", -1, 1),
        ("receipt", -1, status, read, 1),
        *extra,
    ],
    st.integers(0, 1),
    st.integers(0, len(TEXTS) - 1),
    st.booleans(),
    st.sampled_from([MessageStatus.DELIVERED, MessageStatus.FAILED]),
    st.booleans(),
    st.lists(steps, max_size=2),  # and whatever else, at any time
)


@settings(max_examples=100, deadline=None)
@given(st.lists(rounds, min_size=3, max_size=25))
def test_a_compacting_core_decides_as_one_that_replays_everything(
    script: list[list[tuple[Any, ...]]],
) -> None:
    compare([step for round_ in script for step in round_])


def test_a_long_script_compacts_and_still_decides_the_same() -> None:
    script = [
        step
        for k in range(60)
        for step in (
            ("in", k % 2, k % len(TEXTS), k, 1),
            ("send", k % 2, k % 3 == 0, 1),
            ("sent", k, 1),
            ("receipt", k - 3, MessageStatus.DELIVERED, k % 4 == 0, 1),  # late receipts
            ("receipt", k - 20, MessageStatus.FAILED, False, 1),  # on compacted messages
            ("in", k % 2, 0, k - 10, 1),  # duplicates of old messages
            ("fallback", k - 1, 700),
        )
    ]
    run = compare(script)
    conversations = {s.conversation_id for s in run.sent if s.conversation_id is not None}
    compacted = [
        m
        for c in map(run.core.decisions.cached, conversations)
        if isinstance(c, Conversation)
        for m in c.messages.values()
        if m.compacted
    ]
    assert len(compacted) > 50  # the comparison covered compacted messages


# Readers: a page of older messages than the cache holds whole is read from a replay


def test_every_page_shows_what_each_message_said_even_once_compacted() -> None:
    run = Run(cache=True)
    said = [f"message {k}" for k in range(40)]
    for k, text in enumerate(said):
        outcome = run.core.handle(
            cmd.ReceiveMessage(
                provider="sandbox",
                provider_message_id=f"p{k}",
                channel=Channel.SMS,
                sender=CONSUMERS[0],
                recipient=BRAND_SMS,
                body=text,
            )
        )
    assert outcome.conversation_id is not None
    cached = run.core.decisions.cached(outcome.conversation_id)
    assert isinstance(cached, Conversation)
    assert sum(m.compacted for m in cached.messages.values()) >= 10
    for order in Order:
        shown: list[str] = []
        mark = None
        while True:
            page = read_page(run.core, run.brand_id, outcome.conversation_id, order, 7, mark)
            shown += [m.body for m in page.conversation.messages]
            if page.mark is None:
                break
            mark = page.mark
        assert shown == (said[::-1] if order is Order.NEWEST else said)
