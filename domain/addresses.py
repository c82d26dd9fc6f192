"""Addresses normalised once, at the edge of the domain.

A contact is found by its address, so two spellings of one number (``06 12 34 56 78``
dialled in France, ``+33612345678``) must become the same key: E.164 for phones,
lower case for email.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers

from chainon.domain.channels import AddressKind
from chainon.domain.errors import InvalidInput

# Deliberately simple: the mailbox part is checked by the mail server; we only need a
# recognisable, unambiguous key.
_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
MAX_EMAIL_LENGTH = 254
PHONE_CACHE_SIZE = 16384
E164 = phonenumbers.PhoneNumberFormat.E164


@dataclass(frozen=True, order=True)
class Address:
    kind: AddressKind
    value: str  # personal data: E.164 number or lower-cased email

    def __str__(self) -> str:
        return self.value


def parse_address(raw: str, *, default_region: str = "FR", field: str = "address") -> Address:
    """Parses a phone number or an email address; refuses anything else, naming the field."""
    text = raw.strip()
    if not text:
        raise InvalidInput("must not be empty", field=field)
    if "@" in text:
        return parse_email(text, field=field)
    return parse_phone(text, default_region=default_region, field=field)


def parse_email(raw: str, *, field: str = "address") -> Address:
    text = raw.strip().lower()
    if len(text) > MAX_EMAIL_LENGTH or not _EMAIL.match(text):
        raise InvalidInput(f"{raw!r} is not a valid email address", field=field)
    return Address(AddressKind.EMAIL, text)


def parse_phone(raw: str, *, default_region: str = "FR", field: str = "address") -> Address:
    phone = read_phone(raw, default_region)
    if phone.e164 is None:
        raise InvalidInput(phone.problem, field=field)
    return Address(AddressKind.PHONE, phone.e164)


@dataclass(frozen=True)
class Phone:
    """What one parse of a number tells: each decision about it (the contact's key, its
    country's price, quiet hours, sending limits) reads this instead of parsing again."""

    number: phonenumbers.PhoneNumber | None  # None: not a phone number at all
    e164: str | None  # None: not a valid number
    region: str | None  # its ISO country, where one is known
    problem: str = ""  # why e164 is None


def read_phone(raw: str, default_region: str = "FR") -> Phone:
    """A number with its country code (``+…``) reads the same whatever the default
    region, so it is cached once for all of them."""
    return _read_phone(raw, "ZZ" if raw.startswith("+") else default_region)


# A send's recipient was parsed six times on its way (its key, its price, quiet hours, the
# sending limits, the pumping guard): phonenumbers was a tenth of the core's time. An
# inbound sender and the brand's number also come back again and again.
@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _read_phone(raw: str, default_region: str) -> Phone:
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        return Phone(None, None, None, f"{raw!r} is not a phone number ({exc})")
    region: str | None = phonenumbers.region_code_for_number(number)
    if not phonenumbers.is_valid_number(number):
        return Phone(number, None, region, f"{raw!r} is not a valid phone number")
    return Phone(number, phonenumbers.format_number(number, E164), region)


def region_of(address: Address) -> str | None:
    """The ISO country of a phone number (for quiet hours and pricing), None for email."""
    if address.kind is not AddressKind.PHONE:
        return None
    return read_phone(address.value).region


def country_of_recipient(recipient: str) -> str:
    """The ISO country of a recipient's E.164 number (its price); '' for any other address."""
    if not recipient.startswith("+"):
        return ""
    return read_phone(recipient).region or ""
