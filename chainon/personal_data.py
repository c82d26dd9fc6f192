"""Personal data kept encrypted in the event store, per contact (crypto-shredding).

The store is append-only: an event is never rewritten, so erasing a contact (GDPR art. 17)
cannot mean deleting their messages. Instead the fields each event lists in
``personal_fields`` are stored encrypted (AES-256-GCM) with a key of the contact's own,
kept outside the events (``adapters.persistence``, table ``contact_keys``); erasing the
contact destroys the key. Beside the ciphertext the event keeps a placeholder of the same
shape (``domain.erasure``): what it reads as without its key, so the store still replays,
the projections rebuild and the relay publishes, with "erased" in place of the data.

A stored event's state then has, beside its other fields, the header
``{"_pd": {"key": key id, "nonce": …, "ct": …}}``. A state without it is plaintext: events
written before encryption existed load as they were (and erasure cannot reach them).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from chainon.adapters.persistence.port import DataKey, DataKeys
from chainon.domain.contact import Contact
from chainon.domain.erasure import placeholder

HEADER = "_pd"
# How long a process trusts a key it read: another process's erasure reaches this one's
# reads within this time (its own erasures, and the ``ContactErased`` it decodes, at once).
KEY_TTL_SECONDS = 30.0
_MAX_CACHED = 50_000  # entries of each cache: past it, they start again empty

# The first stored state of an aggregate (its ``Opened`` event's), None when there is none.
FirstState = Callable[[UUID], dict[str, Any] | None]


class LazyDataKeys(DataKeys):
    """Data keys opened on first use: the core makes its mapper before its recorder."""

    def __init__(self, open_keys: Callable[[], DataKeys]) -> None:
        self.open_keys = open_keys
        self._keys: DataKeys | None = None

    @property
    def opened(self) -> DataKeys:
        if self._keys is None:
            self._keys = self.open_keys()
        return self._keys

    def key_of(self, contact_id: UUID) -> DataKey:
        return self.opened.key_of(contact_id)

    def keys_of(self, contact_ids: Sequence[UUID]) -> dict[UUID, DataKey]:
        return self.opened.keys_of(contact_ids)

    def find(self, key_id: str) -> bytes | None:
        return self.opened.find(key_id)

    def destroy(self, contact_id: UUID) -> int:
        return self.opened.destroy(contact_id)


class KeyRing:
    """The data keys as the mapper uses them: read once per ``ttl``, forgotten at erasure."""

    def __init__(
        self,
        keys: DataKeys,
        ttl: float = KEY_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = keys
        self.ttl = ttl
        self.clock = clock
        self._by_contact: dict[UUID, tuple[float, DataKey]] = {}
        self._by_id: dict[str, tuple[float, bytes | None]] = {}
        self._ciphers: dict[bytes, AESGCM] = {}
        self._lock = threading.Lock()

    def _fresh(self, contact_id: UUID, now: float) -> bool:
        held = self._by_contact.get(contact_id)
        return held is not None and held[0] > now

    def key_of(self, contact_id: UUID) -> DataKey:
        now = self.clock()
        if self._fresh(contact_id, now):
            return self._by_contact[contact_id][1]
        key = self.keys.key_of(contact_id)
        with self._lock:
            if len(self._by_contact) >= _MAX_CACHED:
                self._by_contact.clear()
            self._by_contact[contact_id] = (now + self.ttl, key)
        return key

    def prime(self, contact_ids: Iterable[UUID]) -> None:
        """Holds the keys of these contacts, asking the store once for those not held."""
        now = self.clock()
        wanted = [i for i in dict.fromkeys(contact_ids) if not self._fresh(i, now)]
        if not wanted:
            return
        keys = self.keys.keys_of(wanted)
        with self._lock:
            if len(self._by_contact) + len(keys) >= _MAX_CACHED:
                self._by_contact.clear()
            for contact_id, key in keys.items():
                self._by_contact[contact_id] = (now + self.ttl, key)

    def find(self, key_id: str) -> bytes | None:
        now = self.clock()
        held = self._by_id.get(key_id)
        if held is not None and held[0] > now:
            return held[1]
        secret = self.keys.find(key_id)
        with self._lock:
            if len(self._by_id) >= _MAX_CACHED:
                self._by_id.clear()
            self._by_id[key_id] = (now + self.ttl, secret)
        return secret

    def cipher(self, secret: bytes) -> AESGCM:
        """The cipher of a key, made once for sealing and opening: its key schedule cost
        as much as an encryption. Forgotten with the keys, so no erased secret stays."""
        cipher = self._ciphers.get(secret)
        if cipher is None:
            with self._lock:
                if len(self._ciphers) >= _MAX_CACHED:
                    self._ciphers.clear()
                cipher = self._ciphers[secret] = AESGCM(secret)
        return cipher

    def forget(self, contact_id: UUID) -> None:
        """Forgets what this process held of the contact's key (all key ids: which one was
        the contact's is not kept)."""
        with self._lock:
            self._by_contact.pop(contact_id, None)
            self._by_id.clear()
            self._ciphers.clear()

    def destroy(self, contact_id: UUID) -> int:
        self.forget(contact_id)
        destroyed = self.keys.destroy(contact_id)
        self.forget(contact_id)  # a read that raced the deletion
        return destroyed


class Owners:
    """Which contact an event's personal data belongs to: a contact's own events are its;
    a conversation's or a consent ledger's belong to the contact their first event names, a
    bot's to its conversation's contact."""

    def __init__(self, first_state: FirstState) -> None:
        self.first_state = first_state
        self._contact_of: dict[UUID, UUID | None] = {}

    def note(self, aggregate_id: UUID, state: dict[str, Any], version: int) -> None:
        """Learns an aggregate's contact from its first event, written or read."""
        if version == 1 and isinstance(state.get("contact_id"), UUID):
            self._hold(aggregate_id, state["contact_id"])

    def contact_of(self, event: DomainEventProtocol[UUID]) -> UUID | None:
        if isinstance(event, Contact.Event):
            return event.originator_id
        aggregate_id = event.originator_id
        if aggregate_id not in self._contact_of:
            first = vars(event) if event.originator_version == 1 else None
            self._hold(aggregate_id, self._named_in(first or self.first_state(aggregate_id)))
        return self._contact_of[aggregate_id]

    def _named_in(self, first: dict[str, Any] | None) -> UUID | None:
        if not first:
            return None
        if first.get("contact_id"):
            return UUID(str(first["contact_id"]))
        if first.get("conversation_id"):  # a bot: its conversation's contact
            conversation = UUID(str(first["conversation_id"]))
            if conversation not in self._contact_of:
                found = (self.first_state(conversation) or {}).get("contact_id")
                self._hold(conversation, UUID(str(found)) if found else None)
            return self._contact_of[conversation]
        return None

    def _hold(self, aggregate_id: UUID, contact_id: UUID | None) -> None:
        if len(self._contact_of) >= _MAX_CACHED:
            self._contact_of.clear()
        self._contact_of[aggregate_id] = contact_id


class PersonalDataMapper(Mapper[UUID]):
    """eventsourcing's mapper, with each event's ``personal_fields`` encrypted under its
    contact's data key on the way in and decrypted on the way out (or left "erased")."""

    def __init__(self, transcoder: Transcoder, keys: KeyRing, first_state: FirstState) -> None:
        super().__init__(transcoder)
        self.keys = keys
        self.owners = Owners(first_state)

    def prime(self, domain_events: Iterable[DomainEventProtocol[UUID]]) -> None:
        """Before a save: the keys its events will be sealed with, fetched (or made) in
        one go rather than one store round trip (and commit, for a new one) per contact."""
        owners: list[UUID] = []
        for domain_event in domain_events:
            state = vars(domain_event)
            self.owners.note(domain_event.originator_id, state, domain_event.originator_version)
            if any(f in state for f in getattr(type(domain_event), "personal_fields", ())):
                contact_id = self.owners.contact_of(domain_event)
                if contact_id is not None:
                    owners.append(contact_id)
        self.keys.prime(owners)

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = vars(domain_event)
        self.owners.note(domain_event.originator_id, state, domain_event.originator_version)
        fields = [f for f in getattr(type(domain_event), "personal_fields", ()) if f in state]
        contact_id = self.owners.contact_of(domain_event) if fields else None
        if contact_id is None:  # nothing personal, or nobody's (a refused stranger's)
            return super().to_stored_event(domain_event)
        secret = {f: state[f] for f in fields}
        sealed = {**state, **{f: placeholder(f, v) for f, v in secret.items()}}
        key = self.keys.key_of(contact_id)
        nonce = os.urandom(12)
        ciphertext = self.keys.cipher(key.secret).encrypt(
            nonce, self.transcoder.encode(secret), _bound_to(domain_event)
        )
        sealed[HEADER] = {"key": key.key_id, "nonce": _b64(nonce), "ct": _b64(ciphertext)}
        stand_in = object.__new__(type(domain_event))
        object.__setattr__(stand_in, "__dict__", sealed)
        return super().to_stored_event(stand_in)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event = super().to_domain_event(stored_event)
        state = vars(domain_event)
        self.owners.note(domain_event.originator_id, state, domain_event.originator_version)
        if isinstance(domain_event, Contact.ContactErased):
            self.keys.forget(domain_event.originator_id)
        header = state.pop(HEADER, None)
        if header is not None:
            state.update(self._opened(header, domain_event))
        return domain_event

    def _opened(
        self, header: dict[str, str], domain_event: DomainEventProtocol[UUID]
    ) -> dict[str, Any]:
        """The personal fields, or nothing (the placeholders stay) when the key is gone."""
        secret = self.keys.find(header["key"])
        if secret is None:
            return {}
        try:
            plain = self.keys.cipher(secret).decrypt(
                _unb64(header["nonce"]), _unb64(header["ct"]), _bound_to(domain_event)
            )
        except InvalidTag:  # not this event's ciphertext: as good as erased
            return {}
        opened: dict[str, Any] = self.transcoder.decode(plain)
        return opened


def _bound_to(domain_event: DomainEventProtocol[UUID]) -> bytes:
    """The associated data: a ciphertext opens only in the event it was made for."""
    return f"{domain_event.originator_id}/{domain_event.originator_version}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
