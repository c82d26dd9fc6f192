from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainon.adapters.channels.smpp.receipts import (
    Receipt,
    UnreadableReceipt,
    id_variants,
    parse_receipt,
)


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- real-world texts ---------------------------------------------------------------------


def test_appendix_b_format_as_kannel_and_most_smscs_send_it() -> None:
    text = (
        b"id:0123456789 sub:001 dlvrd:001 submit date:2306011200 done date:2306011201"
        b" stat:DELIVRD err:000 text:Hello world"
    )
    receipt = parse_receipt(text, {})
    assert receipt == Receipt(
        message_id="0123456789",
        state="delivered",
        error="000",
        submitted=at(2023, 6, 1, 12, 0),
        done=at(2023, 6, 1, 12, 1),
        raw_stat="DELIVRD",
    )
    assert receipt.outcome == "delivered"
    assert receipt.failure_reason is None


def test_jasmin_format_uuid_id_no_sub_no_text() -> None:
    text = (
        "id:16fd2706-8baf-433b-82eb-8c7fada847da submit date:2401311859 "
        "done date:2401311900 stat:UNDELIV err:034"
    )
    receipt = parse_receipt(text, {})
    assert receipt.message_id == "16fd2706-8baf-433b-82eb-8c7fada847da"
    assert (receipt.state, receipt.outcome) == ("failed", "failed")
    assert receipt.failure_reason == "UNDELIV err:034"
    assert receipt.submitted == at(2024, 1, 31, 18, 59)


def test_jasmin_tlvs_with_an_enum_message_state() -> None:
    class MessageState(enum.Enum):  # like smpp.pdu's, a plain Enum
        DELIVERED = 2

    tlvs = {"receipted_message_id": "16fd2706", "message_state": MessageState.DELIVERED}
    receipt = parse_receipt("id:16fd2706 stat:DELIVRD err:000", tlvs)
    assert (receipt.state, receipt.raw_stat) == ("delivered", "DELIVERED")


def test_smppsim_capital_text_seconds_and_trailing_nul() -> None:
    text = (
        b"id:1891273321 sub:001 dlvrd:001 submit date:130505082630 done date:130505082631"
        b" stat:DELIVRD err:000 Text:DLVRD TO MOBILE\x00"
    )
    receipt = parse_receipt(text, {})
    assert receipt.message_id == "1891273321"
    assert receipt.done == at(2013, 5, 5, 8, 26, 31)


def test_tlvs_win_over_the_text_and_hex_matches_decimal() -> None:
    text = b"id:1891273321 sub:001 dlvrd:001 stat:DELIVRD err:000 Text:DLVRD TO MOBILE"
    receipt = parse_receipt(text, {"receipted_message_id": b"70BA8A69\x00", "message_state": 2})
    assert receipt.message_id == "70BA8A69"
    assert id_variants("70BA8A69") & id_variants("1891273321")


def test_node_smpp_tlv_only_receipt() -> None:
    tlvs: dict[str, Any] = {
        "receipted_message_id": "abc123",
        "message_state": 5,
        "network_error_code": b"\x03\x00\x22",  # GSM, error 34
    }
    receipt = parse_receipt(b"", tlvs)
    assert receipt == Receipt("abc123", "failed", "034", None, None, "UNDELIV")
    assert receipt.failure_reason == "UNDELIV err:034"
    assert parse_receipt(None, {**tlvs, "network_error_code": 11}).error == "011"


def test_keys_in_any_case_and_order_with_fields_missing() -> None:
    text = "STAT:expired ERR:0 ID:ABCDEF DONE DATE:2312312359"
    receipt = parse_receipt(text, {})
    assert (receipt.message_id, receipt.state, receipt.error) == ("ABCDEF", "expired", "0")
    assert (receipt.submitted, receipt.done) == (None, at(2023, 12, 31, 23, 59))
    assert receipt.outcome == "expired"
    assert receipt.failure_reason == "expired err:0"


def test_text_quoting_keys_does_not_override_fields() -> None:
    receipt = parse_receipt("id:42 stat:DELIVRD err:000 text:stat:UNDELIV id:7", {})
    assert (receipt.message_id, receipt.state) == ("42", "delivered")


def test_underscored_keys_and_long_dates() -> None:
    text = "id:99 submit_date:20240229103000 done_date:240229103100 stat:DELIVERED"
    receipt = parse_receipt(text, {})
    assert receipt.submitted == at(2024, 2, 29, 10, 30)
    assert receipt.done == at(2024, 2, 29, 10, 31)


@pytest.mark.parametrize("date", ["2313011200", "2023010112000000", "23-01-01", "", "abc"])
def test_unparseable_dates_are_none(date: str) -> None:
    receipt = parse_receipt(f"id:1 submit date:{date} done date:{date} stat:DELIVRD", {})
    assert (receipt.submitted, receipt.done) == (None, None)


def strptime_reading(value: str) -> datetime | None:
    """How receipts' dates were read before the fixed-place reading: the reference."""
    if not value.isdigit() or len(value) not in (10, 12, 14):
        return None
    digits = value if len(value) == 14 else "20" + value
    try:
        formats = "%Y%m%d%H%M%S" if len(digits) == 14 else "%Y%m%d%H%M"
        return datetime.strptime(digits, formats).replace(tzinfo=UTC)
    except ValueError:
        return None


DATE_FORMATS = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S", 14: "%Y%m%d%H%M%S"}
DATE_DIGITS = st.sampled_from(sorted(DATE_FORMATS)).flatmap(
    lambda n: (
        st.text(alphabet="0123456789", min_size=n, max_size=n)
        | st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
            lambda d: d.strftime(DATE_FORMATS[n])
        )
    )
)


@settings(max_examples=500)
@given(DATE_DIGITS)
def test_dates_read_as_strptime_reads_them(digits: str) -> None:
    receipt = parse_receipt(f"id:1 submit date:{digits} stat:DELIVRD", {})
    assert receipt.submitted == strptime_reading(digits)


@pytest.mark.parametrize(
    ("stat", "state", "outcome"),
    [
        ("DELIVRD", "delivered", "delivered"),
        ("DELIVERED", "delivered", "delivered"),
        ("EXPIRED", "expired", "expired"),
        ("DELETED", "failed", "failed"),
        ("UNDELIV", "failed", "failed"),
        ("UNDELIVERABLE", "failed", "failed"),
        ("REJECTD", "failed", "failed"),
        ("REJECTED", "failed", "failed"),
        ("ACCEPTD", "accepted", None),
        ("UNKNOWN", "unknown", None),
        ("ENROUTE", "enroute", None),
        ("SOMETHING", "unknown", None),
    ],
)
def test_stat_values(stat: str, state: str, outcome: str | None) -> None:
    receipt = parse_receipt(f"id:1 stat:{stat.lower()} err:000", {})
    assert (receipt.state, receipt.outcome) == (state, outcome)


@pytest.mark.parametrize(
    ("message_state", "state"),
    [
        (1, "enroute"),
        (2, "delivered"),
        (3, "expired"),
        (4, "failed"),
        (5, "failed"),
        (6, "accepted"),
        (7, "unknown"),
        (8, "failed"),
        (99, "unknown"),
        (b"\x02", "delivered"),
        ("2", "delivered"),
    ],
)
def test_message_state_tlv(message_state: object, state: str) -> None:
    tlvs = {"receipted_message_id": "x", "message_state": message_state}
    assert parse_receipt(None, tlvs).state == state


def test_no_stat_at_all_is_unknown() -> None:
    assert parse_receipt("id:5 sub:001", {}).state == "unknown"


@pytest.mark.parametrize(
    ("short_message", "tlvs"),
    [
        (None, {}),
        (b"", {}),
        (b"hello world", {}),
        (b"\x00\xff\xfe", {}),
        (b"id: stat:DELIVRD", {}),
        ("stat:DELIVRD err:000", {"receipted_message_id": b"\x00"}),
    ],
)
def test_garbage_is_unreadable(short_message: bytes | str | None, tlvs: dict[str, Any]) -> None:
    with pytest.raises(UnreadableReceipt) as caught:
        parse_receipt(short_message, tlvs)
    assert caught.value.reason


# --- id matching --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "receipted"),
    [
        ("1A2B", "6699"),
        ("1a2b", "1A2B"),
        ("00AB", "171"),
        ("0000123", "123"),
        ("6699", "26265"),  # hex made of digits only, receipt in decimal
        ("16FD2706-8BAF-433B-82EB-8C7FADA847DA", "16fd27068baf433b82eb8c7fada847da"),
        ("{16fd2706-8baf-433b-82eb-8c7fada847da}", "16fd2706-8baf-433b-82eb-8c7fada847da"),
        (" abc\x00", "ABC"),
    ],
)
def test_ids_match_through_their_variants(submitted: str, receipted: str) -> None:
    assert id_variants(submitted) & id_variants(receipted)


@pytest.mark.parametrize(("one", "other"), [("1A2B", "1A2C"), ("abc-1", "abc-2"), ("12", "13")])
def test_different_ids_do_not_match(one: str, other: str) -> None:
    assert not id_variants(one) & id_variants(other)


def test_variants_of_nothing() -> None:
    assert id_variants(" \x00") == set()
    assert "0" in id_variants("000")


# --- property -----------------------------------------------------------------------------

_STATS = ["DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD", "ENROUTE"]
ids = st.one_of(
    st.integers(0, 2**64).map(str),
    st.integers(0, 2**64).map(lambda n: format(n, "X")),
    st.uuids().map(str),
)
dates = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)


def _cased(draw: st.DrawFn, key: str) -> str:
    return draw(st.sampled_from([key, key.upper(), key.title()]))


@st.composite
def receipts(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    fields: dict[str, Any] = {
        "id": draw(ids),
        "stat": draw(st.sampled_from(_STATS)),
        "err": draw(st.integers(0, 999).map(lambda n: f"{n:03d}")),
        "submit date": draw(dates),
        "done date": draw(dates),
    }
    seconds = draw(st.booleans())
    items = [
        (key, value.strftime("%y%m%d%H%M%S" if seconds else "%y%m%d%H%M"))
        if isinstance(value, datetime)
        else (key, value)
        for key, value in fields.items()
    ]
    if draw(st.booleans()):
        items += [("sub", "001"), ("dlvrd", draw(st.sampled_from(["000", "001"])))]
    items = draw(st.permutations(items))
    if draw(st.booleans()):
        items.append(("text", draw(st.text("abc XYZ:id stat 0123", max_size=20))))
    text = " ".join(f"{_cased(draw, key)}:{value}" for key, value in items)
    if not seconds:
        fields["submit date"] = fields["submit date"].replace(second=0)
        fields["done date"] = fields["done date"].replace(second=0)
    return text, fields


@settings(max_examples=200, deadline=None)
@given(receipts())
def test_built_receipts_parse_back(built: tuple[str, dict[str, Any]]) -> None:
    text, fields = built
    receipt = parse_receipt(text.encode("latin-1"), {})
    assert receipt.message_id == fields["id"]
    assert receipt.raw_stat == fields["stat"]
    assert receipt.error == fields["err"]
    assert receipt.submitted == fields["submit date"]
    assert receipt.done == fields["done date"]
