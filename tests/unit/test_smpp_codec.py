from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainon.adapters.channels.smpp.codec import (
    Concat,
    MalformedPdu,
    SubmitPart,
    decode_text,
    gsm7_decode,
    gsm7_encode,
    parse_udh,
    submit_parts,
)
from chainon.domain.sms_encoding import GSM7_BASIC, GSM7_EXTENSION, plan_segments

GSM_CHARS = sorted(GSM7_BASIC | GSM7_EXTENSION)


def udh(ref: int, total: int, seq: int) -> bytes:
    return bytes((0x05, 0x00, 0x03, ref, total, seq))


# --- GSM-7 alphabet -----------------------------------------------------------------------


def test_alphabet_matches_the_domain_tables() -> None:
    basic = {gsm7_decode(bytes([code])) for code in range(0x80) if code != 0x1B}
    extension = {char for char in GSM7_BASIC | GSM7_EXTENSION if len(gsm7_encode(char)) == 2}
    assert basic == GSM7_BASIC
    assert extension == GSM7_EXTENSION
    assert all(len(gsm7_encode(char)) == 1 for char in GSM7_BASIC)


@pytest.mark.parametrize(
    ("char", "encoded"),
    [
        ("@", b"\x00"),
        ("£", b"\x01"),
        ("\n", b"\x0a"),
        ("Δ", b"\x10"),
        ("É", b"\x1f"),
        ("¤", b"\x24"),
        ("¡", b"\x40"),
        ("A", b"\x41"),
        ("§", b"\x5f"),
        ("¿", b"\x60"),
        ("à", b"\x7f"),
        ("\f", b"\x1b\x0a"),
        ("^", b"\x1b\x14"),
        ("{", b"\x1b\x28"),
        ("\\", b"\x1b\x2f"),
        ("|", b"\x1b\x40"),
        ("€", b"\x1b\x65"),
    ],
)
def test_gsm7_code_points(char: str, encoded: bytes) -> None:
    assert gsm7_encode(char) == encoded
    assert gsm7_decode(encoded) == char


def test_gsm7_encode_rejects_characters_outside_the_alphabet() -> None:
    with pytest.raises(ValueError, match="U\\+0416"):
        gsm7_encode("Ж")


def test_gsm7_decode_is_tolerant() -> None:
    assert gsm7_decode(b"ab\x1b") == "ab"  # trailing lone ESC dropped
    assert gsm7_decode(b"a\x1b\x1bb") == "a b"  # ESC ESC is reserved: shown as a space
    assert gsm7_decode(b"\x1b\x41") == "A"  # unknown extension: the basic character
    assert gsm7_decode(b"a\x80") == "a\ufffd"  # not a septet


# --- submit parts -------------------------------------------------------------------------


def test_single_gsm7_part_has_no_udh() -> None:
    assert submit_parts("Hello @ 5€", reference=7) == [
        SubmitPart(b"Hello \x00 5\x1b\x65", data_coding=0, esm_class=0, udh=b"")
    ]


def test_160_septets_fit_one_part_and_161_need_two() -> None:
    assert len(submit_parts("a" * 160, 1)) == 1
    assert len(submit_parts("a" * 159 + "€", 1)) == 2


def test_two_gsm7_parts() -> None:
    parts = submit_parts("a" * 200, reference=0x1234)
    assert [p.udh for p in parts] == [udh(0x34, 2, 1), udh(0x34, 2, 2)]
    assert [p.short_message for p in parts] == [
        udh(0x34, 2, 1) + b"a" * 153,
        udh(0x34, 2, 2) + b"a" * 47,
    ]
    assert {(p.data_coding, p.esm_class) for p in parts} == {(0, 0x40)}


def test_four_gsm7_parts() -> None:
    parts = submit_parts("b" * (153 * 3 + 1), reference=9)
    assert [p.short_message[:6] for p in parts] == [udh(9, 4, seq) for seq in (1, 2, 3, 4)]
    assert [len(p.payload) for p in parts] == [153, 153, 153, 1]


def test_escape_pair_is_never_split() -> None:
    parts = submit_parts("a" * 152 + "€" + "b" * 10, reference=1)
    assert parts[0].payload == b"a" * 152
    assert parts[1].payload == b"\x1b\x65" + b"b" * 10


def test_single_ucs2_part() -> None:
    assert submit_parts("Привет", reference=3) == [
        SubmitPart("Привет".encode("utf-16-be"), data_coding=8, esm_class=0, udh=b"")
    ]


def test_two_ucs2_parts() -> None:
    parts = submit_parts("Ж" * 71, reference=0xFF)
    assert [p.short_message for p in parts] == [
        udh(0xFF, 2, 1) + "Ж".encode("utf-16-be") * 67,
        udh(0xFF, 2, 2) + "Ж".encode("utf-16-be") * 4,
    ]
    assert {(p.data_coding, p.esm_class) for p in parts} == {(8, 0x40)}


def test_four_ucs2_parts() -> None:
    parts = submit_parts("Ж" * (67 * 3 + 1), reference=300)
    assert [p.udh for p in parts] == [udh(300 & 0xFF, 4, seq) for seq in (1, 2, 3, 4)]
    assert [len(p.payload) for p in parts] == [134, 134, 134, 2]


def test_surrogate_pair_is_never_split() -> None:
    parts = submit_parts("Ж" * 66 + "😀" + "Ж" * 5, reference=1)
    assert parts[0].payload == "Ж".encode("utf-16-be") * 66
    assert parts[1].payload.startswith(b"\xd8\x3d\xde\x00")


def test_sar_parts_carry_tlv_values_instead_of_a_udh() -> None:
    parts = submit_parts("a" * 200, reference=0x1234, use_sar=True)
    assert [(p.udh, p.esm_class, p.data_coding) for p in parts] == [(b"", 0, 0)] * 2
    assert [p.short_message for p in parts] == [b"a" * 153, b"a" * 47]
    sar = [(p.sar_msg_ref_num, p.sar_total_segments, p.sar_segment_seqnum) for p in parts]
    assert sar == [(0x1234, 2, 1), (0x1234, 2, 2)]
    single = submit_parts("short", reference=5, use_sar=True)[0]
    assert (single.sar_msg_ref_num, single.esm_class, single.udh) == (None, 0, b"")


def test_empty_text_is_one_empty_part() -> None:
    assert submit_parts("", 1) == [SubmitPart(b"", 0, 0, b"")]


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 255"):
        submit_parts("a" * (153 * 255 + 1), 1)


# --- inbound UDH and text -----------------------------------------------------------------


def test_no_udhi_means_no_udh() -> None:
    assert parse_udh(b"\x05\x00\x03\x01\x02\x01hi", esm_class=0) == (
        None,
        b"\x05\x00\x03\x01\x02\x01hi",
    )


def test_8_and_16_bit_references() -> None:
    assert parse_udh(udh(0xAB, 3, 2) + b"hi", 0x40) == (Concat(0xAB, 3, 2), b"hi")
    assert parse_udh(b"\x06\x08\x04\x12\x34\x02\x01hi", 0x40) == (Concat(0x1234, 2, 1), b"hi")


def test_other_information_elements_are_skipped() -> None:
    ports = b"\x05\x04\x0b\x84\x23\xf0"  # application port addressing, 16-bit
    message = b"\x0b" + ports + b"\x00\x03\x07\x02\x02" + b"payload"
    assert parse_udh(message, 0x43) == (Concat(7, 2, 2), b"payload")
    assert parse_udh(b"\x06" + ports + b"text", 0x40) == (None, b"text")


def test_invalid_sequence_is_ignored_and_last_concat_wins() -> None:
    assert parse_udh(udh(1, 2, 0) + b"x", 0x40) == (None, b"x")
    assert parse_udh(udh(1, 2, 3) + b"x", 0x40) == (None, b"x")
    twice = b"\x0a\x00\x03\x01\x02\x01\x00\x03\x09\x02\x02x"
    assert parse_udh(twice, 0x40) == (Concat(9, 2, 2), b"x")


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x05\x00\x03\x01",  # UDH length beyond the buffer
        b"\x03\x00\x03\x01",  # IE length beyond the UDH
        b"\x01\x00",  # truncated IE header
        b"\x04\x00\x02\x01\x02x",  # concatenation IE of the wrong length
    ],
)
def test_malformed_udh(message: bytes) -> None:
    with pytest.raises(MalformedPdu) as caught:
        parse_udh(message, 0x40)
    assert caught.value.reason


@pytest.mark.parametrize(
    ("payload", "data_coding", "text"),
    [
        (b"\x00 5\x1b\x65", 0, "@ 5€"),
        (b"Hi \x00", 1, "Hi @"),  # node-smpp sends its GSM 03.38 "ASCII" as 1
        ("café".encode("latin-1"), 3, "café"),
        ("Жё😀".encode("utf-16-be"), 8, "Жё😀"),
        ("Ж".encode("utf-16-be") + b"\x04", 8, "Ж\ufffd"),  # odd length
        (b"\xd8\x3d", 8, "\ufffd"),  # lone surrogate
        (b"Hi", 0xF0, "Hi"),  # flash, GSM-7
        (b"\xe9", 0xF4, "é"),  # message class group, 8-bit data
        (b"\xe9t\xe9", 4, "été"),
    ],
)
def test_decode_text(payload: bytes, data_coding: int, text: str) -> None:
    assert decode_text(payload, data_coding) == text


# --- properties ---------------------------------------------------------------------------

emoji = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
bmp = st.characters(
    min_codepoint=0x00A0,
    max_codepoint=0xFFFF,
    exclude_categories=["Cs"],  # lone surrogates are not text
    exclude_characters="\ufffd",
)
gsm_char = st.sampled_from(GSM_CHARS)
texts = st.one_of(
    st.text(gsm_char, max_size=700),
    st.text(st.one_of(gsm_char, gsm_char, emoji, bmp), max_size=300),
)


@settings(max_examples=300, deadline=None)
@given(text=texts, reference=st.integers(0, 0xFFFF))
def test_parts_rebuild_the_text_within_limits(text: str, reference: int) -> None:
    parts = submit_parts(text, reference)
    total = len(parts)
    data_coding = parts[0].data_coding
    assert total == plan_segments(text).count
    assert decode_text(b"".join(p.payload for p in parts), data_coding) == text

    pieces = []
    for sequence, part in enumerate(parts, start=1):
        assert part.data_coding == data_coding
        piece = decode_text(part.payload, data_coding)
        assert "\ufffd" not in piece
        if data_coding == 0:  # every septet survives: no lone ESC at the end of a part
            assert gsm7_encode(piece) == part.payload
            assert len(part.payload) <= (160 if total == 1 else 153)
            assert len(part.udh) + math.ceil(len(part.payload) * 7 / 8) <= 140
        else:
            assert data_coding == 8
            assert part.payload.decode("utf-16-be") == piece  # strict: no half surrogate
            assert len(part.payload) <= (140 if total == 1 else 134)
            assert len(part.short_message) <= 140
        pieces.append(piece)
        concat, payload = parse_udh(part.short_message, part.esm_class)
        assert payload == part.payload
        if total == 1:
            assert (concat, part.udh, part.esm_class) == (None, b"", 0)
        else:
            assert concat == Concat(reference & 0xFF, total, sequence)
    assert "".join(pieces) == text
