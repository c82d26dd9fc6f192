"""The SMSC simulator (devtools/smsc/smsc.js) itself, driven by a minimal raw SMPP 3.4 client.

These tests pin down what the Chainon SMPP adapter's tests rely on: bind checks, submit_sm
responses, delivery receipts and their quirks, throttling, MO segmentation, drops.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools.smsc_simulator import Smsc, delivers_of, submits_of

SYSTEM_ID = "chainon"
PASSWORD = "secret"

BIND_TRANSMITTER, BIND_RECEIVER, BIND_TRANSCEIVER = 0x02, 0x01, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
RESP = 0x80000000
ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RINVPASWD, ESME_RINVSYSID = 0x58, 0x14, 0x0E, 0x0F

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXT = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\"}
GSM_EXT |= {0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}


def gsm_decode(data: bytes) -> str:
    out, i = [], 0
    while i < len(data):
        if data[i] == 0x1B:
            out.append(GSM_EXT[data[i + 1]])
            i += 2
        else:
            out.append(GSM_BASIC[data[i]])
            i += 1
    return "".join(out)


def gsm_encode(text: str) -> bytes:
    ext = {char: code for code, char in GSM_EXT.items()}
    out = bytearray()
    for char in text:
        out += bytes([0x1B, ext[char]]) if char in ext else bytes([GSM_BASIC.index(char)])
    return bytes(out)


def cstring(value: str) -> bytes:
    return value.encode() + b"\0"


@dataclass
class Pdu:
    command_id: int
    status: int
    sequence: int
    body: bytes
    fields: dict[str, int | str | bytes] = field(default_factory=dict)
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def short_message(self) -> bytes:
        value = self.fields["short_message"]
        assert isinstance(value, bytes)
        return value

    def int(self, name: str) -> int:
        value = self.fields[name]
        assert isinstance(value, int)
        return value


def parse_deliver_sm(pdu: Pdu) -> Pdu:
    body, at = pdu.body, 0

    def take_cstring() -> str:
        nonlocal at
        end = body.index(b"\0", at)
        value = body[at:end].decode()
        at = end + 1
        return value

    def take_int() -> int:
        nonlocal at
        at += 1
        return body[at - 1]

    pdu.fields["service_type"] = take_cstring()
    pdu.fields["source_ton"], pdu.fields["source_npi"] = take_int(), take_int()
    pdu.fields["source"] = take_cstring()
    pdu.fields["dest_ton"], pdu.fields["dest_npi"] = take_int(), take_int()
    pdu.fields["destination"] = take_cstring()
    for name in ("esm_class", "protocol_id", "priority_flag"):
        pdu.fields[name] = take_int()
    take_cstring(), take_cstring()
    for name in ("registered_delivery", "replace_if_present", "data_coding", "sm_default_msg_id"):
        pdu.fields[name] = take_int()
    length = take_int()
    pdu.fields["short_message"] = body[at : at + length]
    at += length
    while at + 4 <= len(body):
        tag, size = struct.unpack(">HH", body[at : at + 4])
        pdu.tlvs[tag] = body[at + 4 : at + 4 + size]
        at += 4 + size
    return pdu


class Esme:
    """A bare SMPP client: enough to bind, submit, read and answer deliver_sm."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.sequence = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, command_id: int, body: bytes = b"", sequence: int | None = None) -> int:
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        self.sock.sendall(struct.pack(">IIII", 16 + len(body), command_id, 0, sequence) + body)
        return sequence

    def read(self, timeout: float = 5.0) -> Pdu:
        self.sock.settimeout(timeout)
        while True:
            if len(self.buffer) >= 16:
                (length,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= length:
                    raw, self.buffer = self.buffer[:length], self.buffer[length:]
                    command_id, status, sequence = struct.unpack(">III", raw[4:16])
                    pdu = Pdu(command_id, status, sequence, raw[16:])
                    return parse_deliver_sm(pdu) if command_id == DELIVER_SM else pdu
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the SMSC")
            self.buffer += data

    def bind(self, command_id: int = BIND_TRANSCEIVER, password: str = PASSWORD) -> int:
        body = cstring(SYSTEM_ID) + cstring(password) + cstring("") + bytes([0x34, 0, 0])
        self.send(command_id, body + cstring(""))
        resp = self.read()
        assert resp.command_id == command_id | RESP
        return resp.status

    def submit(self, text: str = "Bonjour", registered_delivery: int = 1, data: bytes = b"") -> int:
        message = data or gsm_encode(text)
        body = cstring("") + bytes([1, 1]) + cstring("33939000001") + bytes([1, 1])
        body += cstring("33612345678") + bytes([0, 0, 0]) + cstring("") + cstring("")
        body += bytes([registered_delivery, 0, 0, 0, len(message)]) + message
        return self.send(SUBMIT_SM, body)

    def resp_of(self, sequence: int) -> tuple[int, str]:
        """Reads until the submit_sm_resp of ``sequence``; returns (status, message_id)."""
        while True:
            pdu = self.read()
            if pdu.command_id == SUBMIT_SM | RESP and pdu.sequence == sequence:
                return pdu.status, pdu.body.rstrip(b"\0").decode()
            if pdu.command_id == DELIVER_SM:
                self.answer(pdu)

    def answer(self, pdu: Pdu) -> None:
        self.send(DELIVER_SM | RESP, b"\0", sequence=pdu.sequence)

    def deliveries(self, count: int, timeout: float = 5.0) -> list[Pdu]:
        """Reads (and answers) ``count`` deliver_sm, skipping anything else."""
        got: list[Pdu] = []
        while len(got) < count:
            pdu = self.read(timeout)
            if pdu.command_id == DELIVER_SM:
                self.answer(pdu)
                got.append(pdu)
        return got

    def nothing_more(self, within: float = 0.3) -> None:
        try:
            pdu = self.read(within)
        except TimeoutError:
            return
        pytest.fail(f"unexpected PDU {pdu}")


@pytest.fixture(scope="module")
def smsc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsc]:
    directory = tmp_path_factory.mktemp("smsc")
    with Smsc(system_id=SYSTEM_ID, password=PASSWORD, directory=directory) as simulator:
        yield simulator


@pytest.fixture
def esme(smsc: Smsc) -> Iterator[Esme]:
    smsc.drop()
    smsc.reset(config=True)
    smsc.configure(receipt_delay_ms=0)
    client = Esme(smsc.port)
    assert client.bind() == 0
    yield client
    client.close()


RECEIPT = re.compile(
    r"^id:(\S+) sub:001 dlvrd:00(\d) submit date:\d{10} done date:\d{10} "
    r"stat:(\w+) err:(\d{3}) text:(.*)$"
)


def test_bind_checks_the_credentials_and_answers_enquire_link(smsc: Smsc) -> None:
    client = Esme(smsc.port)
    try:
        assert client.bind(password="wrong") == ESME_RINVPASWD
        body = cstring("nobody") + cstring(PASSWORD) + cstring("") + bytes([0x34, 0, 0, 0])
        client.send(BIND_TRANSCEIVER, body)
        assert client.read().status == ESME_RINVSYSID
        assert client.bind() == 0
        client.send(ENQUIRE_LINK)
        assert client.read().command_id == ENQUIRE_LINK | RESP
        client.send(UNBIND)
        assert client.read().command_id == UNBIND | RESP
        with pytest.raises(ConnectionError):
            client.read()
    finally:
        client.close()


def test_submit_gets_a_hex_id_then_a_receipt_with_tlvs(smsc: Smsc, esme: Esme) -> None:
    text = "Prix: 5€ @ [Paris] {ok}"
    status, message_id = esme.resp_of(esme.submit(text))
    assert status == 0
    assert re.fullmatch(r"[0-9A-F]{6,}", message_id)
    (receipt,) = esme.deliveries(1)
    assert receipt.int("esm_class") == 0x04
    assert receipt.int("data_coding") == 0
    assert receipt.fields["source"] == "33612345678"
    assert receipt.fields["destination"] == "33939000001"
    assert receipt.tlvs[0x001E] == message_id.encode() + b"\0"  # receipted_message_id
    assert receipt.tlvs[0x0427] == bytes([2])  # message_state DELIVERED
    match = RECEIPT.match(gsm_decode(receipt.short_message))
    assert match is not None
    assert match.groups() == (message_id, "1", "DELIVRD", "000", text[:20])
    (submit,) = submits_of(smsc.log())
    assert submit["text"] == text
    assert submit["short_message_hex"] == gsm_encode(text).hex()
    assert submit["data_coding"] == 0
    assert (submit["message_id"], submit["status"]) == (message_id, "ESME_ROK")
    answered = smsc.wait_for_log(lambda log: delivers_of(log, "receipt")[0]["status"] is not None)
    assert delivers_of(answered, "receipt")[0]["status"] == "ESME_ROK"


def test_receipt_variants_decimal_id_no_tlv_no_text(smsc: Smsc, esme: Esme) -> None:
    smsc.configure(receipt_id_format="decimal", tlv_receipts=False, text_fields=False)
    _, message_id = esme.resp_of(esme.submit())
    (receipt,) = esme.deliveries(1)
    text = gsm_decode(receipt.short_message)
    assert text.startswith(f"id:{int(message_id, 16)} dlvrd:001 submit date:")
    assert "sub:" not in text
    assert "text:" not in text
    assert text.endswith("stat:DELIVRD err:000")
    assert receipt.tlvs == {}

    smsc.configure(id_format="uuid", receipt_id_format="same", tlv_receipts=True)
    _, message_id = esme.resp_of(esme.submit())
    assert re.fullmatch(r"[0-9a-f-]{36}", message_id)
    smsc.configure(id_format="decimal")
    _, message_id = esme.resp_of(esme.submit())
    assert message_id.isdigit()


def test_receipts_reverse_failed_duplicated_or_first(smsc: Smsc, esme: Esme) -> None:
    smsc.configure(receipt_delay_ms=150, receipt_order="reverse", fail_ratio=1.0)
    ids = [esme.resp_of(esme.submit(f"n{i}"))[1] for i in range(3)]
    receipts = esme.deliveries(3)
    assert [r.tlvs[0x001E].rstrip(b"\0").decode() for r in receipts] == ids[::-1]
    assert all(r.tlvs[0x0427] == bytes([5]) for r in receipts)  # UNDELIVERABLE
    assert all("stat:UNDELIV err:034" in gsm_decode(r.short_message) for r in receipts)

    smsc.configure(receipt_delay_ms=0, fail_ratio=0.0, duplicate_receipts=True)
    _, message_id = esme.resp_of(esme.submit())
    assert {r.tlvs[0x001E] for r in esme.deliveries(2)} == {message_id.encode() + b"\0"}

    smsc.configure(duplicate_receipts=False, receipt_before_resp=True)
    sequence = esme.submit()
    first = esme.read()
    assert first.command_id == DELIVER_SM
    esme.answer(first)
    second = esme.read()
    assert (second.command_id, second.sequence) == (SUBMIT_SM | RESP, sequence)

    smsc.configure(receipt_before_resp=False)
    esme.resp_of(esme.submit(registered_delivery=2))  # receipts on failure only
    esme.resp_of(esme.submit(registered_delivery=0))
    smsc.configure(silent=True)
    esme.resp_of(esme.submit(registered_delivery=1))
    esme.nothing_more()


def test_throttle_and_reject_next(smsc: Smsc, esme: Esme) -> None:
    smsc.configure(silent=True, throttle={"tps": 3})
    sequences = [esme.submit() for _ in range(5)]
    assert [esme.resp_of(s)[0] for s in sequences] == [0, 0, 0, ESME_RTHROTTLED, ESME_RTHROTTLED]
    smsc.configure(throttle={"tps": 0}, reject_next={"count": 2, "status": "ESME_RMSGQFUL"})
    sequences = [esme.submit() for _ in range(3)]
    assert [esme.resp_of(s)[0] for s in sequences] == [ESME_RMSGQFUL, ESME_RMSGQFUL, 0]
    counters = smsc.state()["counters"]
    assert (counters["throttled"], counters["rejected"], counters["accepted"]) == (2, 2, 4)
    statuses = [entry["status"] for entry in submits_of(smsc.log())]
    assert statuses.count("ESME_RTHROTTLED") == 2
    assert statuses.count("ESME_RMSGQFUL") == 2


def test_mo_udh8_reverse_udh16_and_sar_ucs2(smsc: Smsc, esme: Esme) -> None:
    text = "Bonjour {€} [test] " + "x" * 300 + " fin|^~\\"
    result = smsc.mo(source="+33612345678", destination="+33939000001", text=text, concat="udh8",
                     order="reverse")  # fmt: skip
    assert result["segments"] == 3
    parts = esme.deliveries(3)
    assert all(p.int("esm_class") == 0x40 and p.int("data_coding") == 0 for p in parts)
    assert (parts[0].fields["source"], parts[0].int("source_ton")) == ("33612345678", 1)
    udhs = [p.short_message[:6] for p in parts]
    assert [(u[0], u[1], u[2], u[4], u[5]) for u in udhs] == [(5, 0, 3, 3, n) for n in (3, 2, 1)]
    assert all(len(p.short_message) - 6 <= 153 for p in parts)
    assert gsm_decode(b"".join(p.short_message[6:] for p in reversed(parts))) == text

    smsc.mo(source="+33612345678", destination="+33939000001", text="abcdef", concat="udh16",
            segments=2, ref=700)  # fmt: skip
    parts = esme.deliveries(2)
    assert [p.short_message[:7] for p in parts] == [bytes([6, 8, 4, 2, 188, 2, n]) for n in (1, 2)]

    unicode = "Héllo 😀 ça va ? " * 10
    smsc.mo(source="+33612345678", destination="+33939000001", text=unicode, data_coding=8,
            concat="sar", segments=3, order="shuffle")  # fmt: skip
    parts = sorted(esme.deliveries(3), key=lambda p: p.tlvs[0x020F])
    assert [p.tlvs[0x020E] for p in parts] == [bytes([3])] * 3
    assert all(p.int("esm_class") == 0 and p.int("data_coding") == 8 for p in parts)
    assert b"".join(p.short_message for p in parts).decode("utf-16-be") == unicode
    answered = smsc.wait_for_log(
        lambda log: all(entry["status"] for entry in delivers_of(log, "mo"))
    )
    assert [entry["status"] for entry in delivers_of(answered, "mo")] == ["ESME_ROK"] * 8


def test_drop_now_after_submits_and_requeued_receipts(smsc: Smsc, esme: Esme) -> None:
    smsc.configure(receipt_delay_ms=300)
    _, message_id = esme.resp_of(esme.submit())
    assert smsc.drop()["dropped"] == 1
    with pytest.raises(ConnectionError):
        esme.read()
    # the receipt due after the drop waits for the next bind of the same system_id
    again = Esme(smsc.port)
    try:
        assert again.bind() == 0
        (receipt,) = again.deliveries(1)
        assert receipt.tlvs[0x001E] == message_id.encode() + b"\0"

        smsc.drop(after_submits=2, before_resp=True)
        first, second = again.submit(), again.submit()
        assert again.resp_of(first)[0] == 0
        with pytest.raises(ConnectionError):
            again.resp_of(second)
    finally:
        again.close()
    assert submits_of(smsc.log())[-1]["status"] == "dropped"

    smsc.drop(refuse_ms=200)
    refused = Esme(smsc.port)
    with pytest.raises(ConnectionError):
        refused.bind()
    refused.close()
    time.sleep(0.25)
    accepted = Esme(smsc.port)
    assert accepted.bind() == 0
    accepted.close()


def test_receipt_of_a_transmitter_goes_to_the_receiver(smsc: Smsc) -> None:
    smsc.drop()
    smsc.reset(config=True)
    transmitter, receiver = Esme(smsc.port), Esme(smsc.port)
    try:
        assert transmitter.bind(BIND_TRANSMITTER) == 0
        assert receiver.bind(BIND_RECEIVER) == 0
        _, message_id = transmitter.resp_of(transmitter.submit())
        (receipt,) = receiver.deliveries(1)
        assert receipt.tlvs[0x001E] == message_id.encode() + b"\0"
        receiver.submit()  # a receiver may not submit
        assert receiver.read().status == 0x04  # ESME_RINVBNDSTS
    finally:
        transmitter.close()
        receiver.close()


def test_a_port_in_use_is_a_startup_error(smsc: Smsc, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="EADDRINUSE"):
        Smsc(port=smsc.port).start(tmp_path)
