"""The SMPP link against a real SMSC (node-smpp simulator): segments, receipts, MO,
throttling, a dropped connection, the TPS cap. Every message is counted."""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from smpplib import smpp

from chainon.adapters.channels.port import ChannelRefusal, OutboundMessage
from chainon.adapters.channels.smpp.link import SmppLink
from chainon.adapters.channels.smpp.provider import SmppProvider
from chainon.adapters.channels.smpp.reassembly import GAP_MARKER
from chainon.adapters.channels.smpp.reassembly_store import PartStore
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt
from devtools.smsc_simulator import Smsc, delivers_of, submits_of

SENDER = "+33939000001"


class Recorder:
    def __init__(self) -> None:
        self.inbound_messages: list[ReceiveMessage] = []
        self.receipts: list[RecordReceipt] = []
        self.refusals: list[ChannelRefusal] = []
        self.unavailable = 0  # how many next inbound messages find the bus down

    async def inbound(self, message: ReceiveMessage) -> None:
        if self.unavailable:
            self.unavailable -= 1
            raise ConnectionError("bus unavailable")
        self.inbound_messages.append(message)

    async def receipt(self, receipt: RecordReceipt) -> None:
        self.receipts.append(receipt)

    async def refused(self, refusal: ChannelRefusal) -> None:
        self.refusals.append(refusal)


@pytest.fixture(scope="module")
def smsc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsc]:
    with Smsc(
        system_id="chainon",
        password="secret",
        directory=tmp_path_factory.mktemp("smsc"),
        pdu_log=False,
    ) as simulator:
        yield simulator


@pytest.fixture
async def link(smsc: Smsc) -> AsyncIterator[tuple[SmppProvider, Recorder]]:
    smsc.reset(config=True)
    provider = SmppProvider(
        SmppLink(
            name="test",
            host="127.0.0.1",
            port=smsc.port,
            system_id="chainon",
            password="secret",
            # Long enough for the receipts the SMSC queued at the drop to arrive after the
            # rebind on a loaded machine; a shorter wait would resend what was accepted.
            unanswered_wait=8.0,
        )
    )
    recorder = Recorder()
    await provider.start(recorder)
    await provider.ready()
    yield provider, recorder
    await provider.stop()


def message(body: str, to: str = "+33612345678") -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        brand_id=uuid4(),
        channel=Channel.SMS,
        sender=SENDER,
        recipient=to,
        body=body,
    )


async def until(check: object, within: float = 10.0) -> None:
    for _ in range(int(within / 0.02)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


@pytest.mark.parametrize(
    ("text", "coding", "parts"),
    [
        ("Bonjour", 0, 1),
        ("x" * 200, 0, 2),
        ("€" * 300, 0, 4),  # 600 septets: escape pairs never split
        ("Merci 😀", 8, 1),
        ("ç" * 100, 8, 2),
        ("ç" * 250, 8, 4),
    ],
)
async def test_segments_are_submitted_with_udh_and_delivered_per_segment(
    link: tuple[SmppProvider, Recorder], smsc: Smsc, text: str, coding: int, parts: int
) -> None:
    provider, recorder = link
    accepted = await provider.send(message(text))
    assert len(accepted.segment_ids) == parts
    submits = submits_of(smsc.log())
    assert [s["data_coding"] for s in submits] == [coding] * parts
    assert all(s["status"] == "ESME_ROK" for s in submits)
    if parts > 1:
        assert all(s["esm_class"] & 0x40 for s in submits)
        assert [s["udh_hex"][-4:-2] for s in submits] == [f"{parts:02x}"] * parts
    await until(lambda: len(recorder.receipts) == parts)
    assert sorted(r.provider_message_id for r in recorder.receipts) == sorted(accepted.segment_ids)
    assert {r.status.value for r in recorder.receipts} == {"delivered"}


async def test_receipts_whose_text_names_the_id_in_decimal_and_without_tlvs(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    provider, recorder = link
    smsc.configure(receipt_id_format="decimal", tlv_receipts=False, text_fields=False)
    accepted = await provider.send(message("Bonjour"))
    await until(lambda: len(recorder.receipts) == 1)
    assert recorder.receipts[0].provider_message_id == accepted.provider_message_id


async def test_a_failed_receipt_carries_the_reason(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    provider, recorder = link
    smsc.configure(fail_ratio=1.0, fail_stat="UNDELIV", fail_err="034")
    await provider.send(message("Bonjour"))
    await until(lambda: len(recorder.receipts) == 1)
    assert (recorder.receipts[0].status.value, recorder.receipts[0].reason) == (
        "failed",
        "UNDELIV err:034",
    )


async def test_a_concatenated_mo_out_of_order_is_one_message(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    _, recorder = link
    text = "Bonjour, " + "ma commande n'est pas arrivée. " * 8
    smsc.mo(
        source="+33612345678",
        destination=SENDER,
        text=text,
        data_coding=0,
        concat="udh8",
        order="reverse",
    )
    await until(lambda: len(recorder.inbound_messages) == 1)
    (mo,) = recorder.inbound_messages
    assert (mo.sender, mo.recipient, mo.body) == ("+33612345678", SENDER, text)


async def test_throttling_is_answered_with_backoff_and_nothing_is_lost(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    provider, _ = link
    smsc.configure(throttle={"tps": 10})
    sent = await asyncio.gather(
        *(provider.send(message(f"m{i}", f"+3361234{i:04d}")) for i in range(30))
    )
    statuses = Counter(s["status"] for s in submits_of(smsc.log()))
    assert statuses["ESME_ROK"] == 30
    assert statuses["ESME_RTHROTTLED"] > 0
    assert len({a.provider_message_id for a in sent}) == 30


async def test_a_drop_during_a_burst_of_200_loses_none(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    """None lost, none twice. A submit the SMSC accepted but whose response died with the
    link is proven taken by its receipt (queued by the SMSC for the next bind); one it
    never read gets no receipt and is sent again."""
    provider, _ = link
    smsc.drop(after_submits=80, before_resp=True)
    sent = await asyncio.wait_for(
        asyncio.gather(*(provider.send(message(f"m{i}", f"+3362{i:07d}")) for i in range(200))), 60
    )
    accepted = Counter(
        s["destination"] for s in submits_of(smsc.log()) if s["status"] == "ESME_ROK"
    )
    assert len(sent) == 200
    assert len(accepted) == 200  # every message reached the SMSC
    assert sum(accepted.values()) == 200, [d for d, n in accepted.items() if n > 1]
    assert len({a.provider_message_id for a in sent}) == 200


async def test_the_tps_cap_holds(smsc: Smsc) -> None:
    smsc.reset(config=True)
    provider = SmppProvider(
        SmppLink(
            name="capped",
            host="127.0.0.1",
            port=smsc.port,
            system_id="chainon",
            password="secret",
            tps=20,
        )
    )
    await provider.start(Recorder())
    try:
        await asyncio.gather(*(provider.send(message(f"m{i}", f"+3363{i:07d}")) for i in range(60)))
    finally:
        await provider.stop()
    per_second = Counter(int(s["t"] // 1000) for s in submits_of(smsc.log()))
    assert max(per_second.values()) <= 21, per_second


async def test_a_validity_period_is_sent_and_is_the_receipt_deadline(smsc: Smsc) -> None:
    smsc.reset(config=True)
    provider = SmppProvider(
        SmppLink(
            name="valid",
            host="127.0.0.1",
            port=smsc.port,
            system_id="chainon",
            password="secret",
            validity_period=2 * 3600,
        )
    )
    await provider.start(Recorder())
    try:
        accepted = await provider.send(message("Votre code : 1234"))
    finally:
        await provider.stop()
    assert accepted.receipt_within_seconds == 2 * 3600
    (submit,) = submits_of(smsc.log())
    ends = datetime.fromisoformat(submit["validity_period"].replace("Z", "+00:00"))
    submitted = datetime.fromtimestamp(submit["t"] / 1000, UTC)
    assert abs((ends - submitted) - timedelta(hours=2)) < timedelta(seconds=5)


async def test_without_a_validity_period_none_is_sent(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    provider, _ = link
    accepted = await provider.send(message("Bonjour"))
    assert accepted.receipt_within_seconds is None
    (submit,) = submits_of(smsc.log())
    assert submit["validity_period"] is None


@pytest.mark.parametrize(
    "quirk",
    [
        {"receipt_before_resp": True},
        {"duplicate_receipts": True},
        {"id_format": "uuid", "text_fields": False},
    ],
)
async def test_receipts_in_awkward_orders_and_forms_name_the_submitted_id(
    link: tuple[SmppProvider, Recorder], smsc: Smsc, quirk: dict[str, object]
) -> None:
    """The core retries a receipt that beat its RecordSent and ignores a second one; the
    link's job is to name the right id every time."""
    provider, recorder = link
    smsc.configure(**quirk)
    accepted = await provider.send(message("Bonjour"))
    expected = 2 if quirk.get("duplicate_receipts") else 1
    await until(lambda: len(recorder.receipts) >= expected)
    assert {r.provider_message_id for r in recorder.receipts} == {accepted.provider_message_id}
    assert {r.status.value for r in recorder.receipts} == {"delivered"}


# Long MO across a restart

CONSUMER = "+33612345678"
LONG_MO = "Bonjour, " + "ma commande n'est pas arrivée. " * 8  # one septet per character


def thirds(text: str) -> list[str]:
    """The simulator's cut of ``text`` into ``segments=3`` near-equal parts."""
    size, extra = divmod(len(text), 3)
    bounds = [0]
    for i in range(3):
        bounds.append(bounds[-1] + size + (i < extra))
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


async def restartable(smsc: Smsc, state_dir: Path, **fields: Any) -> tuple[SmppProvider, Recorder]:
    provider = SmppProvider(
        SmppLink(
            name="durable",
            host="127.0.0.1",
            port=smsc.port,
            system_id="chainon",
            password="secret",
            state_dir=state_dir,
            **fields,
        )
    )
    recorder = Recorder()
    await provider.start(recorder)
    await provider.ready()
    return provider, recorder


def send_parts(smsc: Smsc, only: list[int]) -> None:
    smsc.mo(
        source=CONSUMER,
        destination=SENDER,
        text=LONG_MO,
        data_coding=0,
        concat="udh8",
        segments=3,
        ref=42,
        only=only,
    )


async def answered(smsc: Smsc, count: int) -> None:
    """Until the SMSC holds ``deliver_sm_resp`` OK for ``count`` MO parts."""
    await until(
        lambda: [d["status"] for d in delivers_of(smsc.log(), "mo")] == ["ESME_ROK"] * count
    )


async def test_a_long_mo_whose_parts_straddle_a_restart_arrives_whole_and_once(
    smsc: Smsc, tmp_path: Path
) -> None:
    smsc.reset(config=True)
    before, heard_before = await restartable(smsc, tmp_path)
    try:
        send_parts(smsc, [1, 3])
        await answered(smsc, 2)  # the SMSC will never send these two again
    finally:
        await before.stop()
    assert heard_before.inbound_messages == []

    after, heard_after = await restartable(smsc, tmp_path)
    try:
        send_parts(smsc, [2])
        await until(lambda: len(heard_after.inbound_messages) == 1)
        await asyncio.sleep(0.3)  # time for a copy to show up, if one were coming
    finally:
        await after.stop()
    (mo,) = heard_after.inbound_messages
    assert (mo.sender, mo.recipient, mo.body) == (CONSUMER, SENDER, LONG_MO)
    assert (tmp_path / "smpp-durable.sqlite3").exists()
    store = PartStore(tmp_path / "smpp-durable.sqlite3")
    try:
        assert len(await store.open()) == 0  # forgotten once the sink had the message
    finally:
        await store.close()


async def test_a_message_sent_again_after_a_restart_is_not_a_second_sms(
    smsc: Smsc, tmp_path: Path
) -> None:
    """The dispatch hands a message again when its record is redelivered after a crash:
    the link's ledger answers with the first ids, and the SMSC sees each part once."""
    smsc.reset(config=True)
    long = message("x" * 200)  # two parts
    before, _ = await restartable(smsc, tmp_path)
    try:
        first = await before.send(long)
    finally:
        await before.stop()
    after, _ = await restartable(smsc, tmp_path)
    try:
        again = await after.send(long)
        other = await after.send(message("x" * 200))  # a new message is still sent
    finally:
        await after.stop()
    assert again == first
    assert len(first.segment_ids) == 2
    assert other.segment_ids != first.segment_ids
    assert len(submits_of(smsc.log())) == 4


async def test_only_the_parts_not_yet_accepted_are_submitted_again(
    smsc: Smsc, tmp_path: Path
) -> None:
    """A long message cut half-way (its first part accepted, then the process died) is
    completed on the next send, not sent from its first part again."""
    from chainon.adapters.channels.smpp.sent_ledger import SentLedger

    smsc.reset(config=True)
    long = message("x" * 320)  # three parts
    ledger = SentLedger(tmp_path / "smpp-durable.sqlite3")
    await ledger.open()
    await ledger.record(long.message_id, 0, "accepted-before-the-crash")
    await ledger.close()
    provider, _ = await restartable(smsc, tmp_path)
    try:
        accepted = await provider.send(long)
    finally:
        await provider.stop()
    assert accepted.segment_ids[0] == "accepted-before-the-crash"
    assert len(accepted.segment_ids) == 3
    submits = submits_of(smsc.log())
    assert len(submits) == 2
    assert [s["udh_hex"][-2:] for s in submits] == ["02", "03"]  # parts 2 and 3 of 3


async def test_parts_kept_before_a_restart_expire_with_their_gap_marked(
    smsc: Smsc, tmp_path: Path
) -> None:
    smsc.reset(config=True)
    before, _ = await restartable(smsc, tmp_path)
    try:
        send_parts(smsc, [1, 3])
        await answered(smsc, 2)
    finally:
        await before.stop()

    after, heard = await restartable(
        smsc, tmp_path, mo_timeout=timedelta(0), enquire_link_every=0.1
    )
    try:
        await until(lambda: len(heard.inbound_messages) == 1)
        await asyncio.sleep(0.3)  # further expiry rounds find nothing left to deliver
    finally:
        await after.stop()
    first, _, last = thirds(LONG_MO)
    assert [m.body for m in heard.inbound_messages] == [f"{first}{GAP_MARKER}{last}"]


async def test_a_sink_down_at_the_last_part_loses_none_of_the_others(
    smsc: Smsc, tmp_path: Path
) -> None:
    """The last part is not answered; the link drops and the SMSC sends it again, to find
    the other parts still there."""
    smsc.reset(config=True)
    provider, heard = await restartable(smsc, tmp_path)
    try:
        send_parts(smsc, [1, 2])
        await answered(smsc, 2)
        heard.unavailable = 1
        send_parts(smsc, [3])
        await until(lambda: len(heard.inbound_messages) == 1)
    finally:
        await provider.stop()
    assert [m.body for m in heard.inbound_messages] == [LONG_MO]
    assert smsc.state()["counters"]["requeued"] >= 1


# What cannot be read is recorded, answered, and holds up nobody else

RAW_SEQUENCE = 0x7FFF0001  # far from the simulator's own sequence numbers


class _Numbers:
    sequence = 0

    def next_sequence(self) -> int:
        return RAW_SEQUENCE


def deliver_sm(**fields: Any) -> bytes:
    pdu = smpp.make_pdu(
        "deliver_sm",
        client=_Numbers(),
        source_addr_ton=1,
        source_addr=CONSUMER.lstrip("+"),
        dest_addr_ton=1,
        destination_addr=SENDER.lstrip("+"),
        **fields,
    )
    pdu.sequence = RAW_SEQUENCE
    data: bytes = pdu.generate()
    return data


def with_vendor_tlv(pdu: bytes) -> bytes:
    """The PDU with a vendor-specific TLV (0x1400-0x3FFF) appended, as some SMSCs send."""
    tlv = struct.pack(">HH", 0x1400, 3) + b"abc"
    return struct.pack(">L", len(pdu) + len(tlv)) + pdu[4:] + tlv


def raw_answers(smsc: Smsc) -> list[tuple[str, str]]:
    return [(e["command"], e["status"]) for e in smsc.log() if e["pdu"] == "raw_answer"]


@pytest.mark.parametrize(
    ("pdu", "reason", "detail", "answer"),
    [
        pytest.param(
            struct.pack(">LLLL", 16, 0x99, 0, RAW_SEQUENCE),
            "unparsable PDU",
            "0x99",
            ("generic_nack", "ESME_RINVCMDID"),
            id="unknown command",
        ),
        pytest.param(
            with_vendor_tlv(deliver_sm(short_message=b"Bonjour")),
            "unparsable PDU",
            "0x1400",
            ("deliver_sm_resp", "ESME_RX_P_APPN"),
            id="deliver_sm with a vendor TLV",
        ),
        pytest.param(
            deliver_sm(esm_class=0x04, short_message=b"not a receipt at all"),
            "unreadable receipt",
            "no message id",
            ("deliver_sm_resp", "ESME_ROK"),
            id="receipt without an id",
        ),
        pytest.param(
            deliver_sm(esm_class=0x40, short_message=b"\x09\x00\x03\x2a"),
            "undecodable text",
            "UDH length 9",
            ("deliver_sm_resp", "ESME_ROK"),
            id="UDH longer than the message",
        ),
    ],
)
async def test_what_cannot_be_read_is_recorded_and_answered_and_the_next_mo_arrives(
    link: tuple[SmppProvider, Recorder],
    smsc: Smsc,
    pdu: bytes,
    reason: str,
    detail: str,
    answer: tuple[str, str],
) -> None:
    """An answer that says "do not send it again" is safe: the refusal was recorded first."""
    provider, recorder = link
    smsc.raw(pdu)
    smsc.mo(source=CONSUMER, destination=SENDER, text="Toujours là ?")
    await until(lambda: len(recorder.inbound_messages) == 1)
    await until(lambda: raw_answers(smsc) != [])

    (refusal,) = recorder.refusals
    assert (refusal.provider, refusal.reason, refusal.raw) == (provider.name, reason, pdu.hex())
    assert detail in refusal.detail
    assert raw_answers(smsc) == [answer]
    assert [m.body for m in recorder.inbound_messages] == ["Toujours là ?"]
    assert smsc.state()["counters"]["binds"] == 1  # the link stayed up


async def test_a_length_out_of_step_is_recorded_and_the_link_binds_again(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    _, recorder = link
    smsc.raw(struct.pack(">L", 5))
    await until(lambda: smsc.state()["counters"]["binds"] == 2)
    smsc.mo(source=CONSUMER, destination=SENDER, text="Toujours là ?")
    await until(lambda: len(recorder.inbound_messages) == 1)
    (refusal,) = recorder.refusals
    assert (refusal.reason, refusal.raw) == ("unparsable PDU", "00000005")
    assert "out of step" in refusal.detail


async def test_a_long_mo_in_message_payload_arrives_whole(
    link: tuple[SmppProvider, Recorder], smsc: Smsc
) -> None:
    """Over 254 octets without concatenation, the SMSC puts the text in the message_payload
    TLV and leaves short_message empty."""
    _, recorder = link
    text = "Bonjour, " + "ma commande n'est pas arrivée. " * 10  # 319 septets
    smsc.mo(source=CONSUMER, destination=SENDER, text=text, data_coding=0)
    await until(lambda: len(recorder.inbound_messages) == 1)
    assert delivers_of(smsc.log(), "mo")[0].get("message_payload") is True
    assert recorder.inbound_messages[0].body == text
