"""RCS → SMS fallback in the conversation: one replacement at most, whatever the order in
which the deadline, the receipts and the revocation's answer arrive."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import may_fall_back
from chainon.domain.errors import TransitionRefused
from chainon.domain.message import FallbackReason, FallbackState
from chainon.domain.message_status import MessageStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(minutes=10)
LATER = DEADLINE + timedelta(seconds=1)


def rcs_message() -> tuple[Conversation, UUID]:
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=T0)
    message_id = uuid4()
    conversation.queue(
        message_id=message_id,
        channel=Channel.RCS,
        sender="maison-agent",
        recipient="+33612345678",
        body="Votre livraison : choisissez un créneau",
        encoding=None,
        segments=1,
        replaced=(),
        at=T0,
        rich={"text": "Votre livraison", "suggestions": []},
    )
    conversation.plan_fallback(message_id, Channel.SMS, DEADLINE)
    conversation.mark_sent(message_id, provider="rcs", provider_message_id=str(message_id), at=T0)
    return conversation, message_id


def replay(conversation: Conversation) -> Conversation:
    """The same aggregate rebuilt from its events, as the store would."""
    events = conversation.collect_events()
    rebuilt: Aggregate | None = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert isinstance(rebuilt, Conversation)
    return rebuilt


def test_nothing_is_due_before_the_deadline_and_it_is_asked_once_after() -> None:
    conversation, message_id = rcs_message()
    assert not conversation.fallback_due(message_id, at=DEADLINE - timedelta(seconds=1))
    assert conversation.fallback_due(message_id, at=LATER)
    assert not conversation.fallback_due(message_id, at=LATER)
    assert conversation.message(message_id).fallback.state is FallbackState.REVOKING  # type: ignore[union-attr]


def test_an_operator_may_fall_back_before_the_deadline() -> None:
    conversation, message_id = rcs_message()
    assert conversation.fallback_due(message_id, at=T0, now=True)


def test_delivered_before_the_deadline_settles_the_plan() -> None:
    conversation, message_id = rcs_message()
    conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=T0)
    assert not conversation.fallback_due(message_id, at=LATER)
    assert not may_fall_back(conversation.message(message_id), FallbackReason.DEADLINE)


def test_revoked_then_replaced_once_then_a_late_delivery_is_recorded_without_a_third() -> None:
    conversation, message_id = rcs_message()
    conversation.fallback_due(message_id, at=LATER)
    assert conversation.revoked(message_id, at=LATER)
    conversation.fall_back(message_id, FallbackReason.DEADLINE, Channel.SMS, uuid4(), at=LATER)
    with pytest.raises(TransitionRefused):
        conversation.fall_back(message_id, FallbackReason.DEADLINE, Channel.SMS, uuid4(), at=LATER)
    assert conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=LATER)
    message = conversation.message(message_id)
    assert message.status is MessageStatus.DELIVERED
    assert message.fallback.state is FallbackState.TRIGGERED  # type: ignore[union-attr]
    assert not may_fall_back(conversation.message(message_id), FallbackReason.DEADLINE)


def test_delivered_while_revoking_then_revoked_answer_sends_nothing() -> None:
    conversation, message_id = rcs_message()
    conversation.fallback_due(message_id, at=LATER)
    conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=LATER)
    assert not conversation.revoked(message_id, at=LATER)
    assert not may_fall_back(conversation.message(message_id), FallbackReason.DEADLINE)


def test_a_failed_revocation_sends_nothing() -> None:
    conversation, message_id = rcs_message()
    conversation.fallback_due(message_id, at=LATER)
    assert conversation.revocation_failed(message_id, "already delivered", at=LATER)
    assert not conversation.revoked(message_id, at=LATER)
    assert not may_fall_back(conversation.message(message_id), FallbackReason.DEADLINE)


def test_a_permanent_failure_falls_back_once() -> None:
    conversation, message_id = rcs_message()
    conversation.record_outcome(message_id, MessageStatus.FAILED, at=T0, reason="not_capable")
    assert may_fall_back(conversation.message(message_id), FallbackReason.NOT_CAPABLE)
    conversation.fall_back(message_id, FallbackReason.NOT_CAPABLE, Channel.SMS, uuid4(), at=T0)
    assert not may_fall_back(conversation.message(message_id), FallbackReason.NOT_CAPABLE)
    assert not conversation.fallback_due(message_id, at=LATER)


STEPS = ("deadline", "delivered", "revoked", "revocation_failed", "fall_back")


@pytest.mark.parametrize("order", list(itertools.permutations(STEPS)))
def test_in_any_order_at_most_one_replacement_and_it_survives_a_replay(
    order: tuple[str, ...],
) -> None:
    """Every ordering of the racing inputs: never two replacements; a replacement only
    after a successful revocation of an undelivered message."""
    conversation, message_id = rcs_message()
    replacements = 0
    for step in order:
        if step == "deadline":
            conversation.fallback_due(message_id, at=LATER)
        elif step == "delivered":
            conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=LATER)
        elif step == "revoked":
            conversation.revoked(message_id, at=LATER)
        elif step == "revocation_failed":
            conversation.revocation_failed(message_id, "refused", at=LATER)
        elif may_fall_back(conversation.message(message_id), FallbackReason.DEADLINE):
            conversation.fall_back(
                message_id, FallbackReason.DEADLINE, Channel.SMS, uuid4(), at=LATER
            )
            replacements += 1
    assert replacements <= 1
    plan = conversation.message(message_id).fallback
    assert plan is not None
    if replacements:
        position = {step: i for i, step in enumerate(order)}
        assert position["deadline"] < position["revoked"] < position["fall_back"]
        # nothing settled the plan before the revocation succeeded: a delivery settles it
        # whenever it comes; a failed revocation only counts once one was asked
        assert position["revoked"] < position["delivered"]
        failed = position["revocation_failed"]
        assert failed < position["deadline"] or failed > position["revoked"]
    rebuilt = replay(conversation)
    assert rebuilt.message(message_id).fallback == plan
    assert rebuilt.message(message_id).status is conversation.message(message_id).status
