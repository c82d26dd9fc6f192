"""A sent message whose receipt never comes is expired at its deadline (no I/O, time passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message import awaits_receipt
from chainon.domain.message_status import MessageStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def sent(
    channel: Channel = Channel.SMS, deadline: datetime | None = T0 + 2 * DAY
) -> tuple[Conversation, UUID]:
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    message_id = uuid4()
    conversation.queue(
        message_id=message_id,
        channel=channel,
        sender="+33939000001" if channel is not Channel.EMAIL else "bonjour@maison.example",
        recipient="+33612345678" if channel is not Channel.EMAIL else "camille@example.fr",
        body="Votre colis arrive demain",
        encoding=None,
        segments=1,
        replaced=(),
        at=T0,
    )
    assert conversation.mark_sent(
        message_id, provider="p", provider_message_id="x", at=T0, receipt_deadline=deadline
    )
    return conversation, message_id


def test_without_a_receipt_by_its_deadline_a_message_expires_with_the_reason() -> None:
    conversation, message_id = sent()
    assert conversation.message(message_id).receipt_deadline == T0 + 2 * DAY
    assert not conversation.receipt_overdue(message_id, at=T0 + 2 * DAY - timedelta(seconds=1))
    assert conversation.message(message_id).status is MessageStatus.SENT
    assert conversation.receipt_overdue(message_id, at=T0 + 2 * DAY)
    message = conversation.message(message_id)
    assert message.status is MessageStatus.EXPIRED
    assert message.reason == "no delivery receipt by 2026-03-04T09:00:00+00:00"
    assert [s for s, _ in message.history][-1] is MessageStatus.EXPIRED
    # Handed the same deadline again: nothing more.
    assert not conversation.receipt_overdue(message_id, at=T0 + 3 * DAY)
    events = conversation.collect_events()
    assert [type(e).__name__ for e in events][-2:] == ["MessageSent", "ReceiptOverdue"]
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert isinstance(replayed, Conversation)
    again = replayed.message(message_id)
    assert (again.status, again.reason) == (MessageStatus.EXPIRED, message.reason)


def test_a_receipt_before_the_deadline_wins() -> None:
    for outcome in (MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED):
        conversation, message_id = sent()
        assert conversation.record_outcome(message_id, outcome, at=T0 + DAY, reason="x")
        assert not conversation.receipt_overdue(message_id, at=T0 + 3 * DAY)
        assert conversation.message(message_id).status is outcome


def test_an_email_keeps_no_deadline_sent_is_final() -> None:
    assert not awaits_receipt(Channel.EMAIL)
    assert awaits_receipt(Channel.SMS)
    assert awaits_receipt(Channel.RCS)
    conversation, message_id = sent(Channel.EMAIL)
    assert conversation.message(message_id).receipt_deadline is None
    assert not conversation.receipt_overdue(message_id, at=T0 + 300 * DAY)
    assert conversation.message(message_id).status is MessageStatus.SENT


def test_a_message_sent_without_a_deadline_never_expires_by_itself() -> None:
    conversation, message_id = sent(deadline=None)
    assert not conversation.receipt_overdue(message_id, at=T0 + 300 * DAY)
    assert conversation.message(message_id).status is MessageStatus.SENT


def test_a_message_sent_before_deadlines_existed_has_none() -> None:
    state: dict[str, object] = {"message_id": uuid4(), "provider_message_id": "x"}
    Conversation.MessageSent.upcast_v1_v2(state)
    Conversation.MessageSent.upcast_v2_v3(state)
    assert state["receipt_deadline"] is None
    assert state["segment_ids"] == ["x"]
