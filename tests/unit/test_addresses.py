"""Addresses: one person, one key, however the number was typed."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chainon.domain.addresses import parse_address, parse_phone, region_of
from chainon.domain.channels import AddressKind
from chainon.domain.errors import InvalidInput

FRENCH_MOBILE = st.integers(min_value=0, max_value=99_999_999).map(lambda n: f"6{n:08d}")


def spellings(national: str) -> list[str]:
    """Ways a French mobile number is written in the wild."""
    pairs = " ".join(national[i : i + 2] for i in range(1, 9, 2))
    return [
        f"0{national}",
        f"0{national[0]} {pairs}",
        f"+33{national}",
        f"+33 {national[0]} {pairs}",
        f"0033{national}",
        f"(0){national[0]}.{pairs.replace(' ', '.')}",
    ]


@settings(max_examples=200)
@given(FRENCH_MOBILE)
def test_every_spelling_of_a_french_mobile_is_one_e164_key(national: str) -> None:
    assume(phonenumbers.is_valid_number(phonenumbers.parse(f"+33{national}")))
    keys = {parse_phone(s, default_region="FR").value for s in spellings(national)}
    assert keys == {f"+33{national}"}


@settings(max_examples=200)
@given(st.text(max_size=20))
def test_parsing_never_crashes_it_either_normalises_or_refuses(raw: str) -> None:
    try:
        address = parse_address(raw, default_region="FR", field="to")
    except InvalidInput as exc:
        refused: InvalidInput | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.field == "to"
        return
    if address.kind is AddressKind.PHONE:
        assert address.value.startswith("+")
        assert phonenumbers.is_valid_number(phonenumbers.parse(address.value))
    else:
        assert address.value == address.value.lower()
        assert "@" in address.value


def test_time2chat_and_10dlc_numbers_are_accepted() -> None:
    assert parse_phone("09 39 00 00 01").value == "+33939000001"
    us = parse_phone("+1 (202) 555-0143", default_region="US")
    assert us.value == "+12025550143"
    assert region_of(us) == "US"


def test_email_is_lower_cased() -> None:
    assert parse_address(" Camille.Martin@Example.FR ").value == "camille.martin@example.fr"


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "+33 12", "06 12", "not-a-number", "a@b", "x@@example.com", "a b@example.com"],
)
def test_malformed_addresses_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_address(raw, field="to")
    assert refused.value.field == "to"
