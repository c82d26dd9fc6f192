"""The conversation's invariants, with no I/O: time is passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from chainon.domain.attachments import Attachment
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation, normalise_tag
from chainon.domain.conversation_rules import takes_new_message
from chainon.domain.errors import InvalidInput, NotFound, TransitionRefused
from chainon.domain.ids import inbound_message_id
from chainon.domain.message_status import MessageStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def opened() -> Conversation:
    return Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)


def queue_one(conversation: Conversation, at: datetime = T0) -> UUID:
    message_id = uuid4()
    conversation.queue(
        message_id=message_id,
        channel=Channel.SMS,
        sender="+33939000001",
        recipient="+33612345678",
        body="Votre colis arrive demain",
        encoding="gsm7",
        segments=1,
        replaced=(),
        at=at,
    )
    return message_id


def receive(conversation: Conversation, provider_id: str, at: datetime) -> bool:
    return conversation.receive(
        message_id=uuid4() if provider_id == "new" else _stable(provider_id),
        channel=Channel.SMS,
        sender="+33612345678",
        recipient="+33939000001",
        body="Bonjour",
        provider="sandbox",
        provider_message_id=provider_id,
        at=at,
    )


def _stable(provider_id: str) -> UUID:
    return inbound_message_id("sandbox", provider_id)


def test_status_moves_only_forward() -> None:
    conversation = opened()
    message_id = queue_one(conversation)
    assert conversation.mark_sent(message_id, provider="p", provider_message_id="x", at=T0)
    assert conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=T0)
    # A late failure, a duplicate receipt, a late "sent": nothing changes.
    assert not conversation.record_outcome(message_id, MessageStatus.FAILED, at=T0, reason="x")
    assert not conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=T0)
    assert not conversation.mark_sent(message_id, provider="p", provider_message_id="y", at=T0)
    message = conversation.message(message_id)
    assert message.status is MessageStatus.DELIVERED
    assert [s for s, _ in message.history] == [
        MessageStatus.QUEUED,
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    ]
    assert message.provider_message_id == "x"


def test_a_message_is_read_once_and_only_an_outbound_one() -> None:
    conversation = opened()
    message_id = queue_one(conversation)
    conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=T0)
    assert conversation.mark_read(message_id, at=T0 + timedelta(seconds=30))
    assert not conversation.mark_read(message_id, at=T0 + timedelta(seconds=40))  # RBM retried
    assert conversation.message(message_id).read_at == T0 + timedelta(seconds=30)
    assert conversation.message(message_id).status is MessageStatus.DELIVERED
    assert receive(conversation, "in-1", T0)
    with pytest.raises(TransitionRefused, match="inbound"):
        conversation.mark_read(_stable("in-1"), at=T0)
    rebuilt: Conversation | None = None  # replayed from its events, as a load does
    for event in conversation.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert rebuilt is not None
    assert rebuilt.message(message_id).read_at == T0 + timedelta(seconds=30)


def test_a_read_receipt_is_a_delivered_one() -> None:
    from pydantic import ValidationError

    from chainon.domain.commands import RecordReceipt

    with pytest.raises(ValidationError, match="read: a read receipt has status delivered"):
        RecordReceipt(
            provider="rcs", provider_message_id="x", status=MessageStatus.FAILED, read=True
        )
    read = RecordReceipt(
        provider="rcs", provider_message_id="x", status=MessageStatus.DELIVERED, read=True
    )
    assert read.read


def test_receipt_before_sent_moves_forward_and_keeps_the_reason() -> None:
    conversation = opened()
    message_id = queue_one(conversation)
    assert conversation.record_outcome(message_id, MessageStatus.FAILED, at=T0, reason="ERR 34")
    assert conversation.message(message_id).reason == "ERR 34"
    assert not conversation.mark_sent(message_id, provider="p", provider_message_id="x", at=T0)


def test_receipts_refuse_inbound_messages_and_unknown_ids() -> None:
    conversation = opened()
    assert receive(conversation, "in-1", T0)
    inbound_id = _stable("in-1")
    with pytest.raises(TransitionRefused, match="inbound"):
        conversation.record_outcome(inbound_id, MessageStatus.DELIVERED, at=T0)
    with pytest.raises(NotFound):
        conversation.record_outcome(uuid4(), MessageStatus.DELIVERED, at=T0)


def test_the_same_inbound_message_is_recorded_once() -> None:
    conversation = opened()
    assert receive(conversation, "in-1", T0)
    assert not receive(conversation, "in-1", T0 + timedelta(seconds=5))
    assert len(conversation.messages) == 1


def test_resolve_and_reopen_refuse_the_wrong_state_with_a_reason() -> None:
    conversation = opened()
    with pytest.raises(TransitionRefused, match="open"):
        conversation.reopen(reason="x", at=T0)
    conversation.resolve(by="camille", at=T0)
    with pytest.raises(TransitionRefused, match="already resolved"):
        conversation.resolve(by="camille", at=T0)
    conversation.reopen(reason="customer came back", at=T0)
    assert not conversation.resolved


def test_replying_in_a_resolved_conversation_is_refused_unless_reopening() -> None:
    conversation = opened()
    conversation.resolve(by="camille", at=T0)
    with pytest.raises(TransitionRefused, match="resolved"):
        queue_one(conversation)
    assert not conversation.messages


def test_an_inbound_message_reopens_a_resolved_conversation() -> None:
    conversation = opened()
    conversation.resolve(by="camille", at=T0)
    receive(conversation, "in-2", T0 + timedelta(hours=1))
    assert not conversation.resolved
    events = [type(e).__name__ for e in conversation.collect_events()]
    assert events[-2:] == ["Reopened", "MessageReceived"]


def test_an_automatic_reply_is_kept_without_reopening_and_replays_the_same() -> None:
    conversation = opened()
    conversation.resolve(by="camille", at=T0)
    photo = Attachment(filename="absent.png", content_type="image/png", size=3, sha256="a" * 64)
    message_id = uuid4()
    assert conversation.receive(
        message_id=message_id,
        channel=Channel.EMAIL,
        sender="claire@example.org",
        recipient="bonjour@maison.example",
        body="Je suis absente.",
        provider="smtp",
        provider_message_id="ooo-1@example.org",
        at=T0 + timedelta(hours=1),
        subject="Absence",
        attachments=(photo,),
        automatic=True,
    )
    assert conversation.resolved  # a machine's message asks nobody for an answer
    message = conversation.message(message_id)
    assert (message.automatic, message.subject, message.attachments) == (True, "Absence", (photo,))
    events = conversation.collect_events()
    assert [type(e).__name__ for e in events][-2:] == ["Resolved", "MessageReceived"]
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Conversation)
    assert replayed.messages == conversation.messages


def test_reopen_window_decides_between_reopening_and_a_new_conversation() -> None:
    conversation = opened()
    conversation.resolve(by="camille", at=T0)
    week = timedelta(days=7)
    assert takes_new_message(conversation, at=T0 + week, reopen_window=week)
    assert not takes_new_message(
        conversation, at=T0 + week + timedelta(seconds=1), reopen_window=week
    )
    assert takes_new_message(opened(), at=T0 + 10 * week, reopen_window=week)


def test_assignment_and_tags_record_only_changes() -> None:
    conversation = opened()
    assert conversation.assign(agent="camille", team="support", at=T0)
    assert not conversation.assign(agent="camille", team="support", at=T0)
    assert conversation.assign(agent=None, team="support", at=T0)
    assert conversation.agent is None
    with pytest.raises(InvalidInput) as blank:
        conversation.assign(agent="  ", team=None, at=T0)
    assert blank.value.field == "agent"
    assert conversation.tag("  VIP  Client ", at=T0)
    assert not conversation.tag("vip client", at=T0)
    assert conversation.tags == ["vip client"]
    assert conversation.untag("VIP client", at=T0)
    assert not conversation.untag("vip client", at=T0)


@pytest.mark.parametrize("tag", ["", "   ", "x" * 65])
def test_bad_tags_are_refused_naming_the_field(tag: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_tag(tag)
    assert refused.value.field == "tag"


def test_replay_gives_back_the_same_state() -> None:
    conversation = opened()
    message_id = queue_one(conversation)
    conversation.mark_sent(message_id, provider="p", provider_message_id="x", at=T0)
    conversation.assign(agent="camille", team=None, at=T0)
    conversation.tag("vip", at=T0)
    conversation.resolve(by="camille", at=T0 + timedelta(minutes=3))
    events = conversation.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Conversation)
    assert replayed.messages == conversation.messages
    assert (replayed.agent, replayed.tags, replayed.resolved) == ("camille", ["vip"], True)
    assert replayed.last_activity_at == T0 + timedelta(minutes=3)
    assert replayed.version == conversation.version


def test_a_long_sms_is_delivered_with_its_last_segment_and_failed_with_its_first_bad_one() -> None:
    conversation = opened()
    long_one, other = queue_one(conversation), queue_one(conversation)
    parts = ["p-1", "p-2", "p-3"]
    assert conversation.mark_sent(
        long_one, provider="smpp", provider_message_id="p-1", segment_ids=parts, at=T0
    )
    conversation.mark_sent(
        other, provider="smpp", provider_message_id="q-1", segment_ids=["q-1", "q-2"], at=T0
    )
    delivered = MessageStatus.DELIVERED
    assert conversation.record_outcome(long_one, delivered, at=T0, segment_id="p-2")
    assert not conversation.record_outcome(long_one, delivered, at=T0, segment_id="p-2")  # again
    assert conversation.message(long_one).status is MessageStatus.SENT
    assert conversation.record_outcome(long_one, delivered, at=T0, segment_id="p-1")
    assert conversation.record_outcome(long_one, delivered, at=T0, segment_id="p-3")
    assert conversation.message(long_one).status is MessageStatus.DELIVERED
    assert not conversation.record_outcome(long_one, delivered, at=T0, segment_id="p-3")

    assert conversation.record_outcome(other, delivered, at=T0, segment_id="q-1")
    assert conversation.record_outcome(
        other, MessageStatus.FAILED, at=T0, reason="UNDELIV err:034", segment_id="q-2"
    )
    assert conversation.message(other).status is MessageStatus.FAILED
    assert conversation.message(other).reason == "UNDELIV err:034"
    kinds = [type(e).__name__ for e in conversation.collect_events()]
    assert kinds.count("SegmentDelivered") == 3
    assert kinds.count("MessageDelivered") == 1
