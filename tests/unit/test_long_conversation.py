"""What a decision reads of a long conversation: marks kept as messages are added, never a
scan of every message (issue 18: a conversation of thousands of messages made each new
one cost its whole history)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

from chainon.domain.channels import Channel
from chainon.domain.choices import chosen
from chainon.domain.conversation import Conversation, Message
from chainon.domain.conversation_rules import (
    contact_wrote_since,
    last_inbound,
    last_offer,
    last_outbound,
)
from tests.unit.test_last_offer import QUESTION, T0, opened, queue, receive


class NoScan(dict[UUID, Message]):
    """The messages, refusing to be walked through: a lookup by id is all a decision needs."""

    def _refused(self, *_: Any) -> Iterator[Any]:
        raise AssertionError("a decision walked through every message")

    __iter__ = __reversed__ = values = items = keys = _refused


def long(replies: int) -> Conversation:
    conversation = opened()
    queue(conversation, Channel.SMS, body=QUESTION.text or "", rich=QUESTION)
    for k in range(replies):
        receive(conversation, f"message {k}")
    conversation.messages = NoScan(conversation.messages)
    return conversation


def test_the_last_messages_and_the_contacts_last_word_are_read_without_a_scan() -> None:
    conversation = long(300)
    last = receive(conversation, "encore un")
    assert last_inbound(conversation) is conversation.messages[last]
    outbound = last_outbound(conversation)
    assert outbound is not None
    assert outbound.direction.value == "outbound"
    assert last_offer(conversation) is outbound
    assert contact_wrote_since(conversation, T0)
    assert chosen(conversation, Channel.SMS, "2", None) is not None


def test_order_keeps_every_message_as_first_recorded_and_the_marks_follow() -> None:
    conversation = opened()
    first = receive(conversation, "bonjour")
    held = uuid4()
    queue(conversation, Channel.SMS, message_id=held)
    automatic = uuid4()
    conversation.receive(
        message_id=automatic,
        channel=Channel.SMS,
        sender="+33612345678",
        recipient="+33939000001",
        body="absent",
        provider="sandbox",
        provider_message_id="auto",
        at=T0,
        automatic=True,
    )
    assert conversation.order == [first, held, automatic]
    assert conversation.last_outbound_id == held
    assert conversation.last_inbound_id == automatic
    assert conversation.contact_wrote_at == conversation.messages[first].at  # not the auto-reply
