"""Receipts kept before their send: one aggregate per (provider, id), each outcome and the
read kept once, nothing more once matched, and the same state again from the events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from eventsourcing.application import Application

from chainon.domain import ids
from chainon.domain.early_receipt import EarlyReceipt
from chainon.domain.message_status import MessageStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def kept(status: MessageStatus = MessageStatus.DELIVERED, reason: str = "") -> EarlyReceipt:
    return EarlyReceipt.keep("smpp:main", "0a1b2c", status, reason, at=T0)


def reloaded(receipt: EarlyReceipt) -> EarlyReceipt:
    app = Application()
    app.save(receipt)
    loaded = app.repository.get(receipt.id)
    assert isinstance(loaded, EarlyReceipt)
    return loaded


def kinds(receipt: EarlyReceipt) -> list[type]:
    return [type(e) for e in receipt.collect_events()]


def test_one_receipt_aggregate_per_provider_and_provider_id() -> None:
    receipt = kept()
    assert receipt.id == ids.early_receipt_id("smpp:main", "0a1b2c")
    assert receipt.id == kept(MessageStatus.FAILED, "other").id  # a second keep collides
    assert receipt.id != EarlyReceipt.keep("rcs", "0a1b2c", MessageStatus.DELIVERED, "", at=T0).id
    assert (receipt.provider, receipt.provider_message_id) == ("smpp:main", "0a1b2c")
    assert receipt.outcomes == [(MessageStatus.DELIVERED, "")]
    assert (receipt.matched, receipt.matched_message_id, receipt.read) == (False, None, False)
    assert kinds(receipt) == [EarlyReceipt.ReceiptKept]


def test_another_outcome_is_kept_and_a_repeat_is_not() -> None:
    receipt = kept(MessageStatus.SENT, "ENROUTE")
    assert not receipt.keep_again(MessageStatus.SENT, "ENROUTE", at=T0)  # the SMSC repeated it
    assert receipt.keep_again(MessageStatus.DELIVERED, "", at=T0 + timedelta(seconds=2))
    assert receipt.keep_again(MessageStatus.DELIVERED, "DELIVRD again", at=T0)  # other reason
    assert not receipt.keep_again(MessageStatus.DELIVERED, "", at=T0)
    assert receipt.outcomes == [
        (MessageStatus.SENT, "ENROUTE"),
        (MessageStatus.DELIVERED, ""),
        (MessageStatus.DELIVERED, "DELIVRD again"),
    ]
    assert kinds(receipt).count(EarlyReceipt.ReceiptKeptAgain) == 2


def test_a_read_is_kept_once() -> None:
    receipt = kept()
    assert receipt.keep_read(at=T0)
    assert not receipt.keep_read(at=T0 + timedelta(seconds=1))
    assert receipt.read
    assert kinds(receipt) == [EarlyReceipt.ReceiptKept, EarlyReceipt.ReadKept]


def test_once_matched_nothing_more_is_kept() -> None:
    receipt = kept(MessageStatus.SENT)
    conversation_id, message_id = uuid4(), uuid4()
    receipt.match(conversation_id, message_id, at=T0)
    assert receipt.matched
    assert receipt.matched_message_id == message_id
    assert not receipt.keep_again(MessageStatus.DELIVERED, "", at=T0)
    assert not receipt.keep_read(at=T0)
    assert receipt.outcomes == [(MessageStatus.SENT, "")]
    (matched,) = [e for e in receipt.collect_events() if isinstance(e, EarlyReceipt.ReceiptMatched)]
    assert (matched.conversation_id, matched.message_id) == (conversation_id, message_id)


def test_the_events_alone_rebuild_the_receipt() -> None:
    receipt = kept(MessageStatus.SENT, "ENROUTE")
    receipt.keep_again(MessageStatus.FAILED, "UNDELIV err:001", at=T0)
    receipt.keep_read(at=T0)
    message_id = uuid4()
    receipt.match(uuid4(), message_id, at=T0)

    again = reloaded(receipt)

    assert again.version == receipt.version == 4
    assert again.outcomes == [
        (MessageStatus.SENT, "ENROUTE"),
        (MessageStatus.FAILED, "UNDELIV err:001"),
    ]
    assert (again.read, again.matched_message_id) == (True, message_id)
    assert not again.keep_again(MessageStatus.DELIVERED, "", at=T0)


def test_an_unmatched_receipt_rebuilt_still_refuses_repeats_and_takes_news() -> None:
    receipt = kept(MessageStatus.SENT, "ENROUTE")
    again = reloaded(receipt)
    assert not again.matched
    assert not again.keep_again(MessageStatus.SENT, "ENROUTE", at=T0)
    assert again.keep_again(MessageStatus.DELIVERED, "", at=T0)
