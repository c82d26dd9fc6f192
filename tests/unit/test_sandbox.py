"""The sandbox provider's RCS: RBM's answers to capability, send and revoke, decided by
the per-recipient settings, with SMS untouched by what RCS is told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from chainon.adapters.channels.port import (
    ChannelRefusal,
    NotCapable,
    OutboundMessage,
    PermanentFailure,
    RevokeMessage,
    RevokingProvider,
)
from chainon.adapters.channels.sandbox import SandboxOutcome, SandboxProvider
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt
from chainon.domain.message_status import MessageStatus

PHONE = "+33612345678"


class Sink:
    def __init__(self) -> None:
        self.receipts: list[RecordReceipt] = []

    async def inbound(self, message: ReceiveMessage) -> None:
        raise AssertionError("no inbound expected")

    async def receipt(self, receipt: RecordReceipt) -> None:
        self.receipts.append(receipt)

    async def refused(self, refusal: ChannelRefusal) -> None:
        raise AssertionError("no refusal expected")


def outbound(
    channel: Channel = Channel.RCS, recipient: str = PHONE, brand_id: UUID | None = None
) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        brand_id=brand_id or uuid4(),
        channel=channel,
        sender="agent" if channel is Channel.RCS else "+33939000001",
        recipient=recipient,
        body="Bonjour",
    )


def revoke_of(message: OutboundMessage, provider_message_id: str | None = None) -> RevokeMessage:
    return RevokeMessage(
        message_id=message.message_id,
        conversation_id=message.conversation_id,
        brand_id=message.brand_id,
        channel=message.channel,
        sender=message.sender,
        recipient=message.recipient,
        provider_message_id=provider_message_id,
    )


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxProvider]:
    provider = SandboxProvider(receipt_delay=0.01)
    await provider.start(Sink())
    yield provider
    await provider.stop()


def receipts(sandbox: SandboxProvider) -> list[RecordReceipt]:
    sink = sandbox._sink
    assert isinstance(sink, Sink)
    return sink.receipts


async def test_the_sandbox_can_revoke_and_tell_capability(sandbox: SandboxProvider) -> None:
    assert isinstance(sandbox, RevokingProvider)  # what dispatch checks before asking


async def test_every_number_takes_rcs_unless_told_not_to(sandbox: SandboxProvider) -> None:
    capable = await sandbox.capability(outbound())
    assert capable.capable
    assert "RICHCARD_STANDALONE" in capable.features
    sandbox.set_outcome(PHONE, SandboxOutcome.NOT_CAPABLE)
    assert not (await sandbox.capability(outbound())).capable
    with pytest.raises(NotCapable):
        await sandbox.send(outbound())
    assert sandbox.sent == {}
    # The SMS to the same phone still goes, and is delivered.
    sms = await sandbox.send(outbound(Channel.SMS))
    await asyncio.sleep(0.05)
    assert [r.provider_message_id for r in receipts(sandbox)] == [sms.provider_message_id]
    assert receipts(sandbox)[0].status is MessageStatus.DELIVERED


def test_not_capable_concerns_rcs_only() -> None:
    with pytest.raises(ValueError, match="RCS only"):
        SandboxProvider().set_outcome(PHONE, SandboxOutcome.NOT_CAPABLE, Channel.SMS)


async def test_a_failing_rcs_send_is_refused_at_once_and_an_sms_fails_by_receipt(
    sandbox: SandboxProvider,
) -> None:
    sandbox.set_outcome(PHONE, SandboxOutcome.FAIL)
    with pytest.raises(PermanentFailure, match="told to fail"):
        await sandbox.send(outbound())
    await sandbox.send(outbound(Channel.SMS))
    await asyncio.sleep(0.05)
    (failed,) = receipts(sandbox)
    assert failed.status is MessageStatus.FAILED


async def test_an_outcome_for_one_channel_leaves_the_others_alone(
    sandbox: SandboxProvider,
) -> None:
    sandbox.set_outcome(PHONE, SandboxOutcome.SILENT, Channel.RCS)
    assert sandbox.outcome_for(Channel.RCS, PHONE) is SandboxOutcome.SILENT
    assert sandbox.outcome_for(Channel.SMS, PHONE) is SandboxOutcome.DELIVER
    sandbox.set_outcome(PHONE, SandboxOutcome.FAIL)  # every channel, except where set apart
    assert sandbox.outcome_for(Channel.RCS, PHONE) is SandboxOutcome.SILENT
    assert sandbox.outcome_for(Channel.SMS, PHONE) is SandboxOutcome.FAIL


async def test_a_silent_message_is_revoked_and_a_delivered_one_is_not(
    sandbox: SandboxProvider,
) -> None:
    sandbox.set_outcome(PHONE, SandboxOutcome.SILENT, Channel.RCS)
    silent = outbound()
    accepted = await sandbox.send(silent)
    assert (await sandbox.revoke(revoke_of(silent, accepted.provider_message_id))).result == (
        "revoked"
    )
    assert sandbox.revoked == {accepted.provider_message_id}

    sandbox.set_outcome(PHONE, SandboxOutcome.DELIVER, Channel.RCS)
    delivered = outbound()
    await sandbox.send(delivered)
    await asyncio.sleep(0.05)
    answer = await sandbox.revoke(revoke_of(delivered))  # found by our id alone
    assert answer.result == "already_delivered"
    assert [r.status for r in receipts(sandbox)] == [MessageStatus.DELIVERED]


async def test_a_message_revoked_before_its_receipt_never_arrives(
    sandbox: SandboxProvider,
) -> None:
    sandbox.receipt_delay = 0.2
    message = outbound()
    await sandbox.send(message)
    assert (await sandbox.revoke(revoke_of(message))).result == "revoked"
    await asyncio.sleep(0.3)
    assert receipts(sandbox) == []
    assert sandbox.delivered == set()
    # A resend of the same message (a redelivered record) is not delivered either.
    await sandbox.send(message)
    await asyncio.sleep(0.3)
    assert receipts(sandbox) == []


async def test_an_sms_cannot_be_revoked(sandbox: SandboxProvider) -> None:
    sms = outbound(Channel.SMS)
    await sandbox.send(sms)
    answer = await sandbox.revoke(revoke_of(sms))
    assert answer.result == "failed"
    assert sandbox.revoked == set()


async def test_sent_on_counts_each_channel(sandbox: SandboxProvider) -> None:
    rcs, sms = outbound(), outbound(Channel.SMS)
    for message in (rcs, sms, rcs):  # the second rcs is a resend: the same message
        await sandbox.send(message)
    assert [m.message_id for m in sandbox.sent_on(Channel.RCS)] == [rcs.message_id]
    assert [m.message_id for m in sandbox.sent_on(Channel.SMS)] == [sms.message_id]
    assert sandbox.sent_on(Channel.EMAIL) == []


async def test_a_brands_outcome_concerns_that_brands_messages_only(
    sandbox: SandboxProvider,
) -> None:
    mine, theirs = uuid4(), uuid4()
    sandbox.set_outcome(PHONE, SandboxOutcome.NOT_CAPABLE, brand_id=mine)
    assert not (await sandbox.capability(outbound(brand_id=mine))).capable
    assert (await sandbox.capability(outbound(brand_id=theirs))).capable
    with pytest.raises(NotCapable):
        await sandbox.send(outbound(brand_id=mine))
    await sandbox.send(outbound(brand_id=theirs))

    sandbox.set_outcome(PHONE, SandboxOutcome.FAIL, Channel.SMS, brand_id=theirs)
    assert sandbox.outcome_for(Channel.SMS, PHONE, theirs) is SandboxOutcome.FAIL
    assert sandbox.outcome_for(Channel.SMS, PHONE, mine) is SandboxOutcome.DELIVER
    assert sandbox.outcome_for(Channel.SMS, PHONE) is SandboxOutcome.DELIVER


def test_a_brands_own_outcome_wins_over_every_brands() -> None:
    sandbox, brand = SandboxProvider(), uuid4()
    sandbox.set_outcome(PHONE, SandboxOutcome.SILENT, Channel.RCS)  # every brand, RCS
    sandbox.set_outcome(PHONE, SandboxOutcome.FAIL, brand_id=brand)  # one brand, every channel
    assert sandbox.outcome_for(Channel.RCS, PHONE, brand) is SandboxOutcome.FAIL
    assert sandbox.outcome_for(Channel.RCS, PHONE, uuid4()) is SandboxOutcome.SILENT
    assert sandbox.outcome_for(Channel.SMS, PHONE, uuid4()) is SandboxOutcome.DELIVER
