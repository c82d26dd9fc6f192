"""RCS → SMS fallback through the core's commands, on both stores: what is recorded for
each way an RCS message can end, with the clock in the test's hands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.message import FallbackState
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import RichContent
from chainon.event_store import store_env
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, CONSUMER, make_settings

AGENT = "maison-lumiere-agent"
RICH = RichContent.model_validate(
    {
        "text": "Votre livraison arrive demain. Quel créneau ?",
        "suggestions": [
            {"kind": "reply", "text": "Matin", "postback_data": "slot=am"},
            {"kind": "reply", "text": "Après-midi", "postback_data": "slot=pm"},
        ],
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(StoreKind.SQLITE, tmp_path)
    dsn: str = request.getfixturevalue("postgres_dsn")
    return make_settings(StoreKind.POSTGRES, tmp_path, dsn)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def core(settings: Settings, clock: Clock) -> Iterator[Core]:
    core = Core({**store_env(settings), "SINGLE_ROW_TRACKING": "y"}, clock=clock)
    yield core
    core.close()


@pytest.fixture
def brand_id(core: Core) -> object:
    brand = core.register_brand(
        slug="maison-lumiere",
        name="Maison Lumière",
        senders=[(Channel.RCS, AGENT), (Channel.SMS, BRAND_SMS)],
    )
    return brand.id


def send_rich(core: Core, brand_id: object) -> cmd.Outcome:
    return core.handle(cmd.SendMessage(brand_id=brand_id, to=CONSUMER, rich=RICH))  # type: ignore[arg-type]


def sms_of(conversation: Conversation) -> list[str]:
    return [m.body for m in conversation.messages.values() if m.channel is Channel.SMS]


def test_rcs_is_chosen_with_a_plan_and_delivered_means_no_sms(core: Core, brand_id: object) -> None:
    sent = send_rich(core, brand_id)
    assert sent.channel is Channel.RCS
    message_id = sent.message_id
    assert message_id is not None
    core.handle(
        cmd.RecordSent(
            conversation_id=sent.conversation_id,  # type: ignore[arg-type]
            message_id=message_id,
            provider="rcs",
            provider_message_id=str(message_id),
        )
    )
    core.handle(
        cmd.RecordReceipt(
            provider="rcs", provider_message_id=str(message_id), status=MessageStatus.DELIVERED
        )
    )
    late = core.handle(
        cmd.EnforceFallbackDeadline(
            conversation_id=sent.conversation_id,  # type: ignore[arg-type]
            message_id=message_id,
            now=True,
        )
    )
    assert not late.changed
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert sms_of(conversation) == []
    assert conversation.message(message_id).fallback.state is FallbackState.SETTLED  # type: ignore[union-attr]


def test_not_capable_falls_back_once_with_numbered_choices_and_2_picks_the_second(
    core: Core, brand_id: object
) -> None:
    sent = send_rich(core, brand_id)
    failure = cmd.RecordSendFailure(
        conversation_id=sent.conversation_id,  # type: ignore[arg-type]
        message_id=sent.message_id,  # type: ignore[arg-type]
        reason="not_capable",
    )
    core.handle(failure)
    core.handle(failure)  # redelivered: no second SMS
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    (sms,) = sms_of(conversation)
    assert "Répondez 1 pour Matin, 2 pour Après-midi" in sms
    contact = core.get(Contact, conversation.contact_id)
    assert contact.capable_of(Channel.RCS, at=core.clock()) is False

    answer = core.handle(
        cmd.ReceiveMessage(
            provider="sandbox",
            provider_message_id="mo-2",
            channel=Channel.SMS,
            sender=CONSUMER,
            recipient=BRAND_SMS,
            body=" 2 ",
        )
    )
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert conversation.choices[answer.message_id] == ("slot=pm", "Après-midi")  # type: ignore[index]

    # The cached "not capable" sends the next one straight by SMS.
    again = send_rich(core, brand_id)
    assert again.channel is Channel.SMS


def test_deadline_revoked_then_sms_then_a_late_delivery_is_both_delivered(
    core: Core, brand_id: object, clock: Clock
) -> None:
    sent = send_rich(core, brand_id)
    ids = {"conversation_id": sent.conversation_id, "message_id": sent.message_id}
    core.handle(
        cmd.RecordSent(provider="rcs", provider_message_id="late-rcs", **ids)  # type: ignore[arg-type]
    )
    early = core.handle(cmd.EnforceFallbackDeadline(**ids))  # type: ignore[arg-type]
    assert not early.changed  # not due yet
    clock.now += timedelta(minutes=11)
    assert core.handle(cmd.EnforceFallbackDeadline(**ids)).changed  # type: ignore[arg-type]
    assert not core.handle(cmd.EnforceFallbackDeadline(**ids)).changed  # type: ignore[arg-type]
    revoked = cmd.RecordRevocation(result="revoked", **ids)  # type: ignore[arg-type]
    core.handle(revoked)
    core.handle(revoked)
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert len(sms_of(conversation)) == 1
    rcs = conversation.message(sent.message_id)  # type: ignore[arg-type]
    assert rcs.status is MessageStatus.REVOKED
    core.handle(
        cmd.RecordReceipt(
            provider="rcs", provider_message_id="late-rcs", status=MessageStatus.DELIVERED
        )
    )
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert conversation.message(sent.message_id).status is MessageStatus.DELIVERED  # type: ignore[arg-type]
    assert len(sms_of(conversation)) == 1


def test_deadline_then_already_delivered_sends_no_sms(
    core: Core, brand_id: object, clock: Clock
) -> None:
    sent = send_rich(core, brand_id)
    ids = {"conversation_id": sent.conversation_id, "message_id": sent.message_id}
    clock.now += timedelta(minutes=11)
    core.handle(cmd.EnforceFallbackDeadline(**ids))  # type: ignore[arg-type]
    core.handle(cmd.RecordRevocation(result="already_delivered", **ids))  # type: ignore[arg-type]
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert sms_of(conversation) == []
    assert conversation.message(sent.message_id).status is MessageStatus.DELIVERED  # type: ignore[arg-type]


def test_a_2_by_sms_picks_nothing_when_the_chips_were_shown_unnumbered_on_rcs(
    core: Core, brand_id: object
) -> None:
    sent = send_rich(core, brand_id)
    answer = core.handle(
        cmd.ReceiveMessage(
            provider="sandbox",
            provider_message_id="mo-sms-2",
            channel=Channel.SMS,
            sender=CONSUMER,
            recipient=BRAND_SMS,
            body="2",
        )
    )
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert answer.message_id not in conversation.choices


def test_a_failed_receipt_on_rcs_falls_back(core: Core, brand_id: object) -> None:
    sent = send_rich(core, brand_id)
    ids = {"conversation_id": sent.conversation_id, "message_id": sent.message_id}
    core.handle(cmd.RecordSent(provider="rcs", provider_message_id="f-1", **ids))  # type: ignore[arg-type]
    core.handle(
        cmd.RecordReceipt(provider="rcs", provider_message_id="f-1", status=MessageStatus.FAILED)
    )
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert len(sms_of(conversation)) == 1
    plan = conversation.message(sent.message_id).fallback  # type: ignore[arg-type]
    assert plan is not None
    assert plan.reason is not None
    assert plan.reason.value == "failed"


def test_a_send_recorded_after_its_revocation_still_matches_its_receipts(
    core: Core, brand_id: object, clock: Clock
) -> None:
    """RecordRevocation and RecordSent travel under different keys: the revocation's answer
    can be recorded first. The send's ids must still be recorded, or a late DELIVERED for
    it would be kept forever instead of recorded."""
    sent = send_rich(core, brand_id)
    ids = {"conversation_id": sent.conversation_id, "message_id": sent.message_id}
    clock.now += timedelta(minutes=11)
    core.handle(cmd.EnforceFallbackDeadline(**ids))  # type: ignore[arg-type]
    core.handle(cmd.RecordRevocation(result="revoked", **ids))  # type: ignore[arg-type]
    core.handle(cmd.RecordSent(provider="rcs", provider_message_id="r-1", **ids))  # type: ignore[arg-type]
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert conversation.message(sent.message_id).status is MessageStatus.REVOKED  # type: ignore[arg-type]
    late = core.handle(
        cmd.RecordReceipt(provider="rcs", provider_message_id="r-1", status=MessageStatus.DELIVERED)
    )
    assert late.changed
    assert not late.kept
    conversation = core.get(Conversation, sent.conversation_id)  # type: ignore[arg-type]
    assert conversation.message(sent.message_id).status is MessageStatus.DELIVERED  # type: ignore[arg-type]
    assert len(sms_of(conversation)) == 1
