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
    e164, problem = _e164(raw, default_region)
    if e164 is None:
        raise InvalidInput(problem, field=field)
    return Address(AddressKind.PHONE, e164)


# Every inbound message parses its sender's and the brand's number, and the same few
# numbers come back again and again: phonenumbers' parsing was a tenth of the core's time.
@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _e164(raw: str, default_region: str) -> tuple[str | None, str]:
    """The number in E.164, or None and why not."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        return None, f"{raw!r} is not a phone number ({exc})"
    if not phonenumbers.is_valid_number(number):
        return None, f"{raw!r} is not a valid phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def region_of(address: Address) -> str | None:
    """The ISO country of a phone number (for quiet hours and pricing), None for email."""
    if address.kind is not AddressKind.PHONE:
        return None
    return _region(address.value)


def country_of_recipient(recipient: str) -> str:
    """The ISO country of a recipient's E.164 number (its price); '' for any other address."""
    if not recipient.startswith("+"):
        return ""
    try:
        return _region(recipient) or ""
    except phonenumbers.NumberParseException:
        return ""


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _region(e164: str) -> str | None:
    region: str | None = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    return region
