"""Addresses: one person, one key, however the number was typed."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chainon.domain.addresses import parse_address, parse_phone, read_phone, region_of
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


NUMBERISH = st.text(alphabet="+0123456789 ()-.", max_size=18)


@settings(max_examples=300)
@given(NUMBERISH, st.sampled_from(["FR", "US", "ZZ"]))
def test_one_cached_parse_tells_what_phonenumbers_tells(raw: str, default_region: str) -> None:
    """Whatever the default region a ``+`` number was first read with, each later reading
    gets what parsing it afresh would give."""
    phone = read_phone(raw, default_region)
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        assert phone.number is None
        assert phone.e164 is None
        assert phone.region is None
        assert phone.problem
        return
    assert phone.number == number
    assert phone.region == phonenumbers.region_code_for_number(number)
    if phonenumbers.is_valid_number(number):
        assert phone.e164 == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert read_phone(phone.e164, "US").region == phone.region
    else:
        assert phone.e164 is None
        assert phone.problem


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
