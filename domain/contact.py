"""A contact: one person for one brand, reachable at one or more addresses."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids
from chainon.domain.addresses import Address
from chainon.domain.channels import AddressKind, Channel
from chainon.domain.erasure import ERASED
from chainon.domain.errors import InvalidInput

MAX_NAME_LENGTH = 128
MAX_ATTRIBUTE_LENGTH = 1024
ATTRIBUTE_KEY = re.compile(r"^[a-z0-9_.-]{1,64}$")


CAPABILITY_TTL = timedelta(days=2)


class Contact(Aggregate):
    """Holds the contact's addresses and which of its conversations is the current one.

    Conversations are numbered per contact and their ids derive from that number, so two
    workers opening "the next conversation" at once collide instead of opening two.
    """

    TOPIC = "chainon:Contact"

    class Event(Aggregate.Event):
        TOPIC = "chainon:Contact.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:Contact.Created"

    class Registered(Created):
        TOPIC = "chainon:Contact.Registered"
        personal_fields: ClassVar[tuple[str, ...]] = ("address",)
        brand_id: UUID
        address_kind: str
        address: str

    class AddressAdded(Event):
        TOPIC = "chainon:Contact.AddressAdded"
        personal_fields: ClassVar[tuple[str, ...]] = ("address",)
        address_kind: str
        address: str

    class ConversationStarted(Event):
        TOPIC = "chainon:Contact.ConversationStarted"
        conversation_id: UUID
        number: int

    class Renamed(Event):
        TOPIC = "chainon:Contact.Renamed"
        personal_fields: ClassVar[tuple[str, ...]] = ("name",)
        name: str | None

    class AttributeSet(Event):
        TOPIC = "chainon:Contact.AttributeSet"
        personal_fields: ClassVar[tuple[str, ...]] = ("value",)
        key: str
        value: str

    class AttributeCleared(Event):
        TOPIC = "chainon:Contact.AttributeCleared"
        key: str

    class ChannelReached(Event):
        TOPIC = "chainon:Contact.ChannelReached"
        channel: str

    class CapabilityChecked(Event):
        """What the channel's provider said this contact's phone can take (RCS today)."""

        TOPIC = "chainon:Contact.CapabilityChecked"
        channel: str
        capable: bool
        features: list[str]

    class ContactErased(Event):
        """The contact's personal data was erased (GDPR art. 17): its data key is destroyed,
        so every field its events list in ``personal_fields`` reads "erased". ``by`` is who
        asked (an API key id, or ``cli``): no personal data of the contact."""

        TOPIC = "chainon:Contact.ContactErased"
        by: str

    @event(Registered)
    def __init__(self, brand_id: UUID, address_kind: str, address: str) -> None:
        self.brand_id = brand_id
        self.addresses: list[Address] = [Address(AddressKind(address_kind), address)]
        self.conversation_count = 0
        self.current_conversation_id: UUID | None = None
        self.last_channel: Channel | None = None
        self.name: str | None = None
        self.attributes: dict[str, str] = {}
        self.capabilities: dict[Channel, tuple[bool, datetime]] = {}  # → (capable, checked at)
        self.erased = False

    @classmethod
    def register(cls, brand_id: UUID, address: Address, *, at: datetime) -> Contact:
        return cls._create(
            cls.Registered,
            id=ids.contact_id(brand_id, address.value),
            timestamp=at,
            brand_id=brand_id,
            address_kind=address.kind.value,
            address=address.value,
        )

    def add_address(self, address: Address, *, at: datetime) -> bool:
        """Adds an address; False when the contact has it already (a repeat is harmless)."""
        if address in self.addresses:
            return False
        self._address_added(address_kind=address.kind.value, address=address.value, timestamp=at)
        return True

    @event(AddressAdded)
    def _address_added(self, address_kind: str, address: str, timestamp: datetime) -> None:
        self.addresses.append(Address(AddressKind(address_kind), address))

    def address_of(self, kind: AddressKind) -> Address | None:
        """The first address of that kind that can be reached (an erased one cannot)."""
        return next((a for a in self.addresses if a.kind is kind and a.value != ERASED), None)

    def start_conversation(self, *, at: datetime) -> tuple[UUID, int]:
        number = self.conversation_count + 1
        conversation_id = ids.conversation_id(self.id, number)
        self._conversation_started(conversation_id=conversation_id, number=number, timestamp=at)
        return conversation_id, number

    @event(ConversationStarted)
    def _conversation_started(
        self, conversation_id: UUID, number: int, timestamp: datetime
    ) -> None:
        self.conversation_count = number
        self.current_conversation_id = conversation_id

    def rename(self, name: str | None, *, at: datetime) -> bool:
        cleaned = " ".join(name.split()) if name is not None else None
        if cleaned is not None and not 1 <= len(cleaned) <= MAX_NAME_LENGTH:
            raise InvalidInput(f"must be 1 to {MAX_NAME_LENGTH} characters", field="name")
        if cleaned == self.name:
            return False
        self._renamed(name=cleaned, timestamp=at)
        return True

    @event(Renamed)
    def _renamed(self, name: str | None, timestamp: datetime) -> None:
        self.name = name

    def set_attribute(self, key: str, value: str | None, *, at: datetime) -> bool:
        """Sets (or, with None, clears) an attribute an agent or a bot flow learned."""
        if not ATTRIBUTE_KEY.match(key):
            raise InvalidInput(
                "keys are 1-64 lower-case letters, digits, '_', '-' or '.'",
                field=f"attributes.{key}",
            )
        if value is None:
            if key not in self.attributes:
                return False
            self._attribute_cleared(key=key, timestamp=at)
            return True
        if len(value) > MAX_ATTRIBUTE_LENGTH:
            raise InvalidInput(
                f"must be at most {MAX_ATTRIBUTE_LENGTH} characters", field=f"attributes.{key}"
            )
        if self.attributes.get(key) == value:
            return False
        self._attribute_set(key=key, value=value, timestamp=at)
        return True

    @event(AttributeSet)
    def _attribute_set(self, key: str, value: str, timestamp: datetime) -> None:
        self.attributes[key] = value

    @event(AttributeCleared)
    def _attribute_cleared(self, key: str, timestamp: datetime) -> None:
        del self.attributes[key]

    def reached_on(self, channel: Channel, *, at: datetime) -> None:
        """Records the channel last used with this contact, only when it changes."""
        if channel is not self.last_channel:
            self._channel_reached(channel=channel.value, timestamp=at)

    @event(ChannelReached)
    def _channel_reached(self, channel: str, timestamp: datetime) -> None:
        self.last_channel = Channel(channel)

    def capability_checked(
        self, channel: Channel, capable: bool, features: list[str], *, at: datetime
    ) -> bool:
        """Records a provider's answer; an unchanged answer is recorded again only when the
        one on record is a day old, so the cache's age stays true without an event per send."""
        known = self.capabilities.get(channel)
        if known is not None and known[0] == capable and at - known[1] < CAPABILITY_TTL / 2:
            return False
        self._capability_checked(
            channel=channel.value, capable=capable, features=features, timestamp=at
        )
        return True

    @event(CapabilityChecked)
    def _capability_checked(
        self, channel: str, capable: bool, features: list[str], timestamp: datetime
    ) -> None:
        self.capabilities[Channel(channel)] = (capable, timestamp)

    def capable_of(self, channel: Channel, *, at: datetime) -> bool | None:
        """The cached answer while it is fresh; None when unknown or stale (ask again).

        Handsets change (a SIM moves to an iPhone, RCS is switched off): an answer is
        trusted for ``CAPABILITY_TTL``, as RBM's guidance to re-check before campaigns."""
        known = self.capabilities.get(channel)
        if known is None or at - known[1] > CAPABILITY_TTL:
            return None
        return known[0]

    def erase(self, *, by: str, at: datetime) -> bool:
        """Records the erasure; False when the contact was erased already (a repeat is
        harmless: the caller destroys whatever key the contact has again)."""
        if self.erased:
            return False
        self._erased(by=by, timestamp=at)
        return True

    @event(ContactErased)
    def _erased(self, by: str, timestamp: datetime) -> None:
        # Replayed without the key these read "erased" already; an instance held in memory
        # since before the erasure forgets them here.
        self.erased = True
        self.addresses = [Address(a.kind, ERASED) for a in self.addresses]
        self.name = ERASED if self.name is not None else None
        self.attributes = dict.fromkeys(self.attributes, ERASED)
