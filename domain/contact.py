"""A contact: one person for one brand, reachable at one or more addresses."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.addresses import Address
from domain.channels import AddressKind, Channel


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

    class ChannelReached(Event):
        TOPIC = "chainon:Contact.ChannelReached"
        channel: str

    @event(Registered)
    def __init__(self, brand_id: UUID, address_kind: str, address: str) -> None:
        self.brand_id = brand_id
        self.addresses: list[Address] = [Address(AddressKind(address_kind), address)]
        self.conversation_count = 0
        self.current_conversation_id: UUID | None = None
        self.last_channel: Channel | None = None

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
        return next((a for a in self.addresses if a.kind is kind), None)

    def next_conversation_id(self) -> UUID:
        return ids.conversation_id(self.id, self.conversation_count + 1)

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

    def reached_on(self, channel: Channel, *, at: datetime) -> None:
        """Records the channel last used with this contact, only when it changes."""
        if channel is not self.last_channel:
            self._channel_reached(channel=channel.value, timestamp=at)

    @event(ChannelReached)
    def _channel_reached(self, channel: str, timestamp: datetime) -> None:
        self.last_channel = Channel(channel)
