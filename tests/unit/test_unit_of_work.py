"""The unit of work on its own: one transaction per batch, a batch's later commands see
its earlier ones, one bad command decided again alone, conflicts decided again. The
core runs on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import RecordConflictError

from chainon import messagebus
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.unit_of_work import MAX_ATTEMPTS, ConcurrencyExhausted

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BRAND_SMS = "+33939000001"


def inbound(provider_id: str, sender: str = "+33612345678") -> cmd.ReceiveMessage:
    return cmd.ReceiveMessage(
        provider="sandbox",
        provider_message_id=provider_id,
        channel=Channel.SMS,
        sender=sender,
        recipient=BRAND_SMS,
        body=f"message {provider_id}",
    )


@pytest.fixture
def core() -> Core:
    core = Core(clock=lambda: T0)
    core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)])
    return core


def counting_saves(core: Core) -> list[int]:
    saves: list[int] = []
    save = core.unit.save

    def counted(*aggregates: Any) -> Any:
        saves.append(len(aggregates))
        return save(*aggregates)

    core.unit.save = counted
    return saves


def test_a_batch_is_one_transaction_and_its_later_commands_see_the_earlier(
    core: Core,
) -> None:
    saves = counting_saves(core)
    first, second, again = core.handle_many(
        [(inbound("a"), None), (inbound("b"), None), (inbound("a"), None)]
    )
    assert len(saves) == 1
    assert isinstance(first, cmd.Outcome)
    assert isinstance(second, cmd.Outcome)
    assert isinstance(again, cmd.Outcome)
    assert first.conversation_id == second.conversation_id  # one contact, one conversation
    assert again.duplicate  # the batch's own first "a" was seen
    assert first.position == second.position is not None
    conversation = core.get(Conversation, first.conversation_id)  # type: ignore[arg-type]
    assert [m.body for m in conversation.messages.values()] == ["message a", "message b"]


def test_a_bad_command_is_decided_again_alone_and_spares_its_neighbours(core: Core) -> None:
    unknown = cmd.TagConversation(brand_id=uuid4(), conversation_id=uuid4(), add=["vip"])
    first, failed, second = core.handle_many(
        [(inbound("a"), None), (unknown, None), (inbound("b"), None)]
    )
    assert isinstance(first, cmd.Outcome)
    assert isinstance(second, cmd.Outcome)
    assert isinstance(failed, Exception)
    assert "no conversation" in str(failed)


def test_a_conflict_is_decided_again_then_given_up(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def always_conflicting(*aggregates: Any) -> Any:
        attempts.append(1)
        raise RecordConflictError("someone else wrote first")

    core.unit.save = always_conflicting
    with pytest.raises(ConcurrencyExhausted):
        core.handle(inbound("a"))
    assert len(attempts) == MAX_ATTEMPTS


def test_a_handler_sees_the_loader_and_the_units_clock(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def spy(loader: Any, command: cmd.Command, now: datetime) -> Any:
        seen.append((loader, now))
        return cmd.Outcome(changed=False), []

    monkeypatch.setitem(messagebus.HANDLERS, cmd.TagConversation, spy)
    later = datetime(2026, 3, 3, tzinfo=UTC)
    core.clock = lambda: later
    core.handle(cmd.TagConversation(brand_id=uuid4(), conversation_id=uuid4(), add=["x"]))
    assert seen == [(core, later)]
