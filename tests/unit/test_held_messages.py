"""Messages the send policy held (deferred for quiet hours) or refused (blocked): what
their events record reads back into the same content, on the spot and on replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import contact_wrote_since
from chainon.domain.errors import TransitionRefused
from chainon.domain.held_messages import due_for_release, refuse_if_recorded
from chainon.domain.message import Hold, Outgoing
from chainon.domain.message_status import MessageStatus

T0 = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)
RELEASE = T0 + timedelta(hours=11)


SALE = Outgoing(
    message_id=uuid4(),
    channel=Channel.RCS,
    sender="brand-agent",
    recipient="+33612345678",
    body="Soldes -20 % cœur",
    encoding="ucs2",
    segments=2,
    replaced=("’",),
    purpose=Purpose.MARKETING,
    request_id="req-1",
    rich={"text": "Soldes", "suggestions": []},
    campaign_id=uuid4(),
)


def content(**changes: Any) -> Outgoing:
    return replace(SALE, message_id=uuid4(), **changes)


def opened() -> Conversation:
    return Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)


def replayed(conversation: Conversation) -> Conversation:
    rebuilt = None
    for fact in conversation.collect_events():
        rebuilt = fact.mutate(rebuilt)
    assert isinstance(rebuilt, Conversation)
    return rebuilt


def said(conversation: Conversation, sent: Outgoing) -> Outgoing:
    m = conversation.message(sent.message_id)
    assert m.purpose is not None
    return Outgoing(
        m.id,
        m.channel,
        m.sender,
        m.recipient,
        m.body,
        m.encoding,
        m.segments,
        m.replaced,
        m.purpose,
        sent.request_id,  # not kept on the message
        m.rich,
        m.campaign_id,
    )


@pytest.mark.parametrize(
    "sent",
    [content(), content(encoding=None, replaced=(), request_id=None, rich=None, campaign_id=None)],
)
def test_what_fields_records_reads_back(sent: Outgoing) -> None:
    assert Outgoing.recorded(sent.fields()) == sent


def test_a_deferred_message_keeps_what_it_said_and_its_hold_on_replay() -> None:
    conversation = opened()
    sent = content()
    conversation.defer(sent, Hold(RELEASE, RELEASE + timedelta(days=1), 30), at=T0)
    for state in (conversation, replayed(conversation)):
        message = state.message(sent.message_id)
        assert message.status is MessageStatus.DEFERRED
        assert message.hold == Hold(RELEASE, RELEASE + timedelta(days=1), 30)
        assert said(state, sent) == sent


def test_a_blocked_message_keeps_what_it_said_and_its_reason_on_replay() -> None:
    conversation = opened()
    sent = content(purpose=Purpose.SERVICE, campaign_id=None)
    conversation.block(sent, "opted_out", at=T0)
    for state in (conversation, replayed(conversation)):
        message = state.message(sent.message_id)
        assert (message.status, message.reason) == (MessageStatus.BLOCKED, "opted_out")
        assert said(state, sent) == sent


def test_a_deferred_message_blocked_at_its_release_keeps_its_history() -> None:
    conversation = opened()
    sent = content()
    conversation.defer(sent, Hold(RELEASE), at=T0)
    conversation.block(sent, "quiet_hours_past_deadline", at=RELEASE)
    message = replayed(conversation).message(sent.message_id)
    assert message.at == T0
    assert message.history == [(MessageStatus.DEFERRED, T0), (MessageStatus.BLOCKED, RELEASE)]
    with pytest.raises(TransitionRefused):
        conversation.defer(sent, Hold(RELEASE), at=RELEASE)


def test_the_message_values_are_still_importable_from_the_conversation_module() -> None:
    import chainon.domain.conversation
    import chainon.domain.message

    for name in ("Message", "Hold", "Outgoing", "Fallback", "FallbackState", "FallbackReason"):
        assert getattr(chainon.domain.conversation, name) is getattr(chainon.domain.message, name)


def test_only_a_deferred_message_may_be_recorded_again() -> None:
    conversation = opened()
    deferred, blocked = content(), content()
    conversation.defer(deferred, Hold(RELEASE), at=T0)
    conversation.block(blocked, "opted_out", at=T0)
    refuse_if_recorded(conversation.messages, deferred.message_id)
    refuse_if_recorded(conversation.messages, uuid4())
    with pytest.raises(TransitionRefused, match="exists already"):
        refuse_if_recorded(conversation.messages, blocked.message_id)


def test_a_deferred_message_is_due_at_its_release_time_and_not_before() -> None:
    conversation = opened()
    sent = content()
    conversation.defer(sent, Hold(RELEASE), at=T0)
    message = conversation.message(sent.message_id)
    assert due_for_release(message, RELEASE - timedelta(seconds=1)) is None
    assert due_for_release(message, RELEASE) == Hold(RELEASE)
    conversation.block(sent, "opted_out", at=RELEASE)
    assert due_for_release(conversation.message(sent.message_id), RELEASE) is None


def test_only_a_person_writing_since_makes_a_reply_conversational() -> None:
    conversation = opened()
    for provider_id, automatic in (("auto", True), ("person", False)):
        conversation.receive(
            message_id=uuid4(),
            channel=Channel.SMS,
            sender="+33612345678",
            recipient="+33939000001",
            body="Bonjour",
            provider="sandbox",
            provider_message_id=provider_id,
            at=T0 if automatic else T0 - timedelta(hours=2),
            automatic=automatic,
        )
    assert contact_wrote_since(conversation, T0 - timedelta(hours=2))
    assert not contact_wrote_since(conversation, T0 - timedelta(hours=1))  # the auto-reply


def test_no_snapshot_stores_the_message_values_by_their_class() -> None:
    """Why ``domain.message`` could take them from ``domain.conversation`` without
    registering their old topics: only a snapshot of a conversation's state would name
    them, and the core takes none."""
    from chainon.core import Core

    assert not Core.is_snapshotting_enabled
    assert not Core.snapshotting_intervals
