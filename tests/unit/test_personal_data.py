"""Personal fields encrypted per contact in the stored events, and read "erased" once the
contact's key is destroyed (``chainon.personal_data``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.persistence import UUIDAsHex as UUIDTranscoding
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from chainon.adapters.persistence.popo import MemoryDataKeys
from chainon.adapters.persistence.port import DataKey
from chainon.domain.addresses import parse_phone
from chainon.domain.channels import AddressKind, Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.erasure import ERASED, placeholder
from chainon.personal_data import HEADER, KeyRing, PersonalDataMapper

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
BRAND = uuid4()
PHONE = "+33612345678"


def transcoder() -> JSONTranscoder:
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr

    coder = JSONTranscoder()
    for transcoding in (UUIDTranscoding(), DecimalAsStr(), DatetimeAsISO()):
        coder.register(transcoding)
    return coder


class Store:
    """A mapper over an in-memory store: what the core's mapper sees, without a database."""

    def __init__(self) -> None:
        self.keys = MemoryDataKeys()
        self.ring = KeyRing(self.keys)
        self.stored: dict[UUID, list[StoredEvent]] = {}
        self.mapper = PersonalDataMapper(transcoder(), self.ring, self.first_state)

    def first_state(self, aggregate_id: UUID) -> dict[str, Any] | None:
        found = self.stored.get(aggregate_id)
        return self.mapper.transcoder.decode(found[0].state) if found else None

    def save(self, aggregate: Any) -> list[StoredEvent]:
        events = [self.mapper.to_stored_event(e) for e in aggregate.collect_events()]
        self.stored.setdefault(aggregate.id, []).extend(events)
        return events

    def load(self, aggregate_id: UUID) -> Any:
        aggregate = None
        for stored in self.stored[aggregate_id]:
            aggregate = self.mapper.to_domain_event(stored).mutate(aggregate)
        return aggregate


def a_conversation(store: Store, body: str) -> tuple[Contact, Conversation]:
    contact = Contact.register(BRAND, parse_phone(PHONE), at=AT)
    contact.rename("Léa Martin", at=AT)
    contact.set_attribute("city", "Lyon", at=AT)
    conversation_id, number = contact.start_conversation(at=AT)
    conversation = Conversation.open(conversation_id, BRAND, contact.id, number, at=AT)
    conversation.receive(
        message_id=uuid4(),
        channel=Channel.SMS,
        sender=PHONE,
        recipient="+33939000001",
        body=body,
        provider="p",
        provider_message_id="1",
        at=AT,
    )
    store.save(contact)
    store.save(conversation)
    return contact, conversation


def raw(store: Store) -> bytes:
    return b"".join(e.state for events in store.stored.values() for e in events)


def test_personal_fields_are_stored_encrypted_and_read_back() -> None:
    store = Store()
    contact, conversation = a_conversation(store, "Mon colis n'est pas arrivé")
    assert PHONE.encode() not in raw(store)
    assert b"colis" not in raw(store)
    assert b"Lyon" not in raw(store)
    loaded = store.load(contact.id)
    assert [a.value for a in loaded.addresses] == [PHONE]
    assert loaded.name == "Léa Martin"
    assert loaded.attributes == {"city": "Lyon"}
    (message,) = store.load(conversation.id).messages.values()
    assert message.body == "Mon colis n'est pas arrivé"


def test_a_destroyed_key_reads_erased_and_the_store_still_replays() -> None:
    store = Store()
    contact, conversation = a_conversation(store, "Mon colis n'est pas arrivé")
    assert store.ring.destroy(contact.id) == 1
    loaded = store.load(contact.id)
    assert [a.value for a in loaded.addresses] == [ERASED]
    assert loaded.name == ERASED
    assert loaded.attributes == {"city": ERASED}
    (message,) = store.load(conversation.id).messages.values()
    assert message.body == ERASED
    assert store.load(conversation.id).contact_id == contact.id  # ids are no personal data


def test_a_destroyed_key_leaves_no_cipher_behind_and_the_next_one_is_new() -> None:
    store = Store()
    contact, conversation = a_conversation(store, "Mon colis n'est pas arrivé")
    store.load(conversation.id)  # sealed and opened with the contact's key
    secret = store.keys.key_of(contact.id).secret
    assert store.ring.cipher(secret) is store.ring.cipher(secret)  # one a key, reused
    store.ring.destroy(contact.id)
    assert store.ring._ciphers == {}  # no erased secret kept in this process
    (message,) = store.load(conversation.id).messages.values()
    assert message.body == ERASED


def test_the_header_names_the_key_and_the_fields_keep_a_placeholder() -> None:
    store = Store()
    contact, _ = a_conversation(store, "bonjour")
    registered = store.mapper.transcoder.decode(store.stored[contact.id][0].state)
    assert registered["address"] == ERASED
    assert registered[HEADER]["key"] == store.keys.key_of(contact.id).key_id
    assert set(registered[HEADER]) == {"key", "nonce", "ct"}


def test_events_written_before_encryption_load_as_plaintext() -> None:
    store = Store()
    contact = Contact.register(BRAND, parse_phone(PHONE), at=AT)
    plain = Mapper(transcoder()).to_stored_event(contact.collect_events()[0])
    store.stored[contact.id] = [plain]
    assert [a.value for a in store.load(contact.id).addresses] == [PHONE]


def test_a_ciphertext_moved_to_another_event_does_not_open() -> None:
    store = Store()
    contact, _ = a_conversation(store, "bonjour")
    registered, _renamed, attribute_set, _started = store.stored[contact.id]
    header = store.mapper.transcoder.decode(registered.state)[HEADER]
    state = store.mapper.transcoder.decode(attribute_set.state)
    state[HEADER] = header
    moved = StoredEvent(
        attribute_set.originator_id,
        attribute_set.originator_version,
        attribute_set.topic,
        store.mapper.transcoder.encode(state),
    )
    assert store.mapper.to_domain_event(moved).value == ERASED  # type: ignore[attr-defined]


def test_events_without_personal_fields_carry_no_header() -> None:
    store = Store()
    contact, _ = a_conversation(store, "bonjour")
    started = next(
        e for e in store.stored[contact.id] if e.topic == get_topic(Contact.ConversationStarted)
    )
    assert HEADER not in store.mapper.transcoder.decode(started.state)


def test_erasure_of_one_contact_leaves_another_readable() -> None:
    store = Store()
    erased, _ = a_conversation(store, "bonjour")
    other = Contact.register(BRAND, parse_phone("+33612345679"), at=AT)
    store.save(other)
    store.ring.destroy(erased.id)
    assert [a.value for a in store.load(other.id).addresses] == ["+33612345679"]


def test_erasing_a_contact_is_recorded_once_and_forgets_what_it_held() -> None:
    contact = Contact.register(BRAND, parse_phone(PHONE), at=AT)
    contact.rename("Léa", at=AT)
    assert contact.erase(by="cli", at=AT) is True
    assert contact.erase(by="cli", at=AT) is False
    assert contact.erased
    assert [a.value for a in contact.addresses] == [ERASED]
    assert contact.name == ERASED
    assert type(contact.collect_events()[-1]) is Contact.ContactErased
    assert contact.address_of(AddressKind.PHONE) is None  # nothing to reply to
    contact.add_address(parse_phone(PHONE), at=AT)
    assert contact.address_of(AddressKind.PHONE) == parse_phone(PHONE)


def test_consent_evidence_keeps_its_proof_not_the_words_or_the_address() -> None:
    evidence = {
        "source": "keyword",
        "text": "STOP",
        "channel": "sms",
        "address": PHONE,
        "actor": "",
        "rule": "stop",
        "message_id": str(uuid4()),
        "uncertain": False,
    }
    kept = placeholder("evidence", evidence)
    assert kept["text"] == ERASED
    assert kept["address"] == ERASED
    assert {k: kept[k] for k in ("source", "channel", "rule", "message_id", "uncertain")} == {
        k: evidence[k] for k in ("source", "channel", "rule", "message_id", "uncertain")
    }


def test_placeholders_keep_each_fields_shape() -> None:
    assert placeholder("body", "x") == ERASED
    assert placeholder("subject", None) is None
    assert placeholder("attachments", [{"name": "a.pdf"}]) == []
    assert placeholder("rich", {"card": {}}) is None


@given(st.text(max_size=400))
def test_any_body_round_trips_and_is_erased_with_its_key(body: str) -> None:
    store = Store()
    contact, conversation = a_conversation(store, body)
    (message,) = store.load(conversation.id).messages.values()
    assert message.body == body
    store.ring.destroy(contact.id)
    (message,) = store.load(conversation.id).messages.values()
    assert message.body == ERASED


def test_a_refused_strangers_message_names_no_contact_and_is_stored_as_it_came() -> None:
    from chainon.domain.refusal import RefusedInbound

    store = Store()
    refused = RefusedInbound.refuse(
        uuid4(),
        provider="p",
        provider_message_id="1",
        channel="sms",
        sender=PHONE,
        recipient="+33939000009",
        body="bonjour",
        reason="unknown_recipient",
        at=AT,
    )
    (stored,) = store.save(refused)
    assert HEADER not in store.mapper.transcoder.decode(stored.state)
    assert store.load(refused.id).sender == PHONE


def test_a_bots_answers_belong_to_its_conversations_contact() -> None:
    from chainon.domain import ids
    from chainon.domain.bot import Bot

    store = Store()
    contact, conversation = a_conversation(store, "bonjour")
    state = {
        "originator_id": ids.bot_id(conversation.id),
        "originator_version": 3,
        "timestamp": AT,
        "run": 1,
        "step": "adresse",
        "text": "12 rue des Lilas",
        "value": "12 rue des Lilas",
        "store_as": None,
        "message_id": None,
    }
    answer = object.__new__(Bot.AnswerCollected)
    object.__setattr__(answer, "__dict__", state)
    opened = Bot.open(BRAND, conversation.id, at=AT)
    store.save(opened)
    stored = store.mapper.to_stored_event(answer)
    assert b"Lilas" not in stored.state
    assert store.mapper.to_domain_event(stored).value == "12 rue des Lilas"  # type: ignore[attr-defined]
    store.ring.destroy(contact.id)
    assert store.mapper.to_domain_event(stored).value == ERASED  # type: ignore[attr-defined]


def test_a_mapping_keeps_its_keys_with_each_value_erased() -> None:
    assert placeholder("answers", {"adresse": "12 rue des Lilas", "note": "5"}) == {
        "adresse": ERASED,
        "note": ERASED,
    }


def test_another_processs_erasure_reaches_this_ones_reads_within_the_keys_ttl() -> None:
    keys, now = MemoryDataKeys(), [0.0]
    here = KeyRing(keys, ttl=30.0, clock=lambda: now[0])
    there = KeyRing(keys)
    contact = uuid4()
    key = here.key_of(contact)
    assert here.find(key.key_id) == key.secret
    there.destroy(contact)
    assert here.find(key.key_id) == key.secret  # trusted a while: one query per key, not per event
    now[0] = 31.0
    assert here.find(key.key_id) is None
    assert here.key_of(contact).key_id != key.key_id  # written again, under a new key


class CountingKeys(MemoryDataKeys):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[UUID]] = []

    def keys_of(self, contact_ids: Sequence[UUID]) -> dict[UUID, DataKey]:
        self.asked.append(list(contact_ids))
        return {i: MemoryDataKeys.key_of(self, i) for i in contact_ids}

    def key_of(self, contact_id: UUID) -> DataKey:
        self.asked.append([contact_id])
        return super().key_of(contact_id)


def test_a_saves_keys_are_asked_for_once_for_all_its_contacts() -> None:
    store = Store()
    counting = CountingKeys()
    store.ring.keys = counting
    pairs = []
    for n in range(3):
        contact = Contact.register(BRAND, parse_phone(f"+3361234567{n}"), at=AT)
        conversation_id, number = contact.start_conversation(at=AT)
        conversation = Conversation.open(conversation_id, BRAND, contact.id, number, at=AT)
        conversation.receive(
            message_id=uuid4(),
            channel=Channel.SMS,
            sender=f"+3361234567{n}",
            recipient="+33939000001",
            body="hello",
            provider="p",
            provider_message_id=str(n),
            at=AT,
        )
        pairs.append((contact, conversation))
    store.mapper.prime(
        e
        for contact, conversation in pairs
        for a in (contact, conversation)
        for e in a.pending_events
    )
    assert counting.asked == [[contact.id for contact, _ in pairs]]  # one batch, each once
    for contact, conversation in pairs:
        store.save(contact)
        store.save(conversation)
    assert len(counting.asked) == 1  # sealing the events asked for no key again
    _, conversation = pairs[0]
    assert [m.body for m in store.load(conversation.id).messages.values()] == ["hello"]
    store.mapper.prime(e for _, conversation in pairs for e in conversation.pending_events)
    assert len(counting.asked) == 1  # nothing to seal, nothing asked
