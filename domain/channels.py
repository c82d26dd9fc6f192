"""Channels and the kind of address each one reaches."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    RCS = "rcs"
    EMAIL = "email"


class AddressKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"


CHANNEL_ADDRESS_KIND: dict[Channel, AddressKind] = {
    Channel.SMS: AddressKind.PHONE,
    Channel.RCS: AddressKind.PHONE,
    Channel.EMAIL: AddressKind.EMAIL,
}

DEFAULT_CHANNEL_ORDER: tuple[Channel, ...] = (Channel.RCS, Channel.SMS, Channel.EMAIL)


def channels_reaching(kind: AddressKind, order: tuple[Channel, ...]) -> list[Channel]:
    """The channels of a brand's order that can reach an address of this kind, in order."""
    return [channel for channel in order if CHANNEL_ADDRESS_KIND[channel] is kind]
