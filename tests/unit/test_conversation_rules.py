"""What a conversation's state decides, asked of plain values: no aggregate, no event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import (
    desk_holder,
    may_fall_back,
    revocation_due,
    revoking,
)
from chainon.domain.message import Fallback, FallbackReason, FallbackState, Message
from chainon.domain.message_status import Direction, MessageStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(minutes=10)


def rcs(status: MessageStatus, state: FallbackState | None) -> Message:
    return Message(
        id=uuid4(),
        direction=Direction.OUTBOUND,
        channel=Channel.RCS,
        sender="maison-agent",
        recipient="+33612345678",
        body="Votre livraison",
        status=status,
        at=T0,
        fallback=None if state is None else Fallback(Channel.SMS, DEADLINE, state),
    )


def test_the_revocation_is_due_past_the_deadline_or_at_once_when_asked() -> None:
    waiting = rcs(MessageStatus.SENT, FallbackState.PLANNED)
    assert not revocation_due(waiting, at=DEADLINE - timedelta(seconds=1))
    assert revocation_due(waiting, at=DEADLINE)
    assert revocation_due(waiting, at=T0, now=True)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (MessageStatus.DELIVERED, FallbackState.PLANNED),  # a final status: nothing to take back
        (MessageStatus.SENT, FallbackState.REVOKING),  # asked already
        (MessageStatus.SENT, FallbackState.TRIGGERED),
        (MessageStatus.SENT, None),  # no plan
    ],
)
def test_no_revocation_without_a_waiting_plan_on_a_message_still_on_its_way(
    status: MessageStatus, state: FallbackState | None
) -> None:
    assert not revocation_due(rcs(status, state), at=DEADLINE, now=True)


def test_a_replacement_for_the_deadline_comes_only_after_the_revocation() -> None:
    assert revoking(rcs(MessageStatus.SENT, FallbackState.REVOKING))
    assert not may_fall_back(
        rcs(MessageStatus.SENT, FallbackState.REVOKING), FallbackReason.DEADLINE
    )
    assert may_fall_back(
        rcs(MessageStatus.REVOKED, FallbackState.REVOKING), FallbackReason.DEADLINE
    )
    assert not may_fall_back(
        rcs(MessageStatus.REVOKED, FallbackState.TRIGGERED), FallbackReason.DEADLINE
    )


def test_a_replacement_for_a_failure_comes_while_the_plan_waits() -> None:
    for status in (MessageStatus.FAILED, MessageStatus.EXPIRED):
        assert may_fall_back(rcs(status, FallbackState.PLANNED), FallbackReason.FAILED)
        assert not may_fall_back(rcs(status, FallbackState.SETTLED), FallbackReason.FAILED)
    assert not may_fall_back(rcs(MessageStatus.SENT, FallbackState.PLANNED), FallbackReason.FAILED)
    assert not may_fall_back(rcs(MessageStatus.FAILED, None), FallbackReason.NOT_CAPABLE)


def test_the_desk_holder_is_the_agent_while_the_conversation_is_open() -> None:
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    assert desk_holder(conversation) is None
    conversation.claim("camille", at=T0)
    assert desk_holder(conversation) == "camille"
    conversation.resolve(by="camille", at=T0)
    assert desk_holder(conversation) is None
    assert conversation.agent == "camille"  # kept, but no desk counts a resolved one
