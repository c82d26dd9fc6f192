"""The core decides on cached aggregates without copying them; the cache only ever holds
what the store holds: what a command saved is kept for the next command on it, what a
failed unit of work touched is dropped, and what another process wrote is caught up."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from chainon import messagebus
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import parse_phone
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.errors import DomainError
from chainon.domain.index import IndexEntry, IndexKind, contact_key, entry_id, inbound_key


def core_on(path: Path) -> Core:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "AGGREGATE_CACHE_MAXSIZE": "100",
    }
    return Core(env)


def sent_conversation(core: Core) -> tuple[UUID, UUID]:
    """The brand's id and the id of the conversation of the message it just sent."""
    brand = core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    sent = core.handle(cmd.SendMessage(brand_id=brand.id, to="+33612345678", body="Bonjour"))
    assert sent.conversation_id is not None
    return brand.id, sent.conversation_id


def test_a_saved_conversation_is_cached_as_stored(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    _, conversation_id = sent_conversation(core)
    cached = core.decisions.cached(conversation_id)
    assert isinstance(cached, Conversation)
    assert not cached.pending_events
    stored = Core({**core.env}).get(Conversation, conversation_id)  # a fresh process
    assert cached.version == stored.version
    # Reads outside a decision never get the instance decisions mutate.
    assert core.get(Conversation, conversation_id) is not cached


def test_the_next_decision_uses_the_cached_instance(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand_id, conversation_id = sent_conversation(core)
    cached = core.decisions.cached(conversation_id)
    core.handle(
        cmd.TagConversation(brand_id=brand_id, conversation_id=conversation_id, add=["vip"])
    )
    assert core.decisions.cached(conversation_id) is cached
    assert isinstance(cached, Conversation)
    assert "vip" in cached.tags


def test_a_batch_of_sends_to_known_contacts_reads_the_store_by_batch_not_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand = core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    numbers = [f"+3361234560{i}" for i in range(5)]

    def sends() -> list[tuple[cmd.Command, None]]:
        return [(cmd.SendMessage(brand_id=brand.id, to=n, body="Bonjour"), None) for n in numbers]

    first = core.handle_many(sends())
    cold = Core({**core.env})  # another process: nothing cached
    by_id: list[UUID] = []
    select_events = cold.recorder.select_events

    def counted(originator_id: UUID, **kwargs: object) -> object:
        by_id.append(originator_id)
        return select_events(originator_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cold.recorder, "select_events", counted)
    again = cold.handle_many(sends())

    assert [o.conversation_id for o in again if isinstance(o, cmd.Outcome)] == [
        o.conversation_id for o in first if isinstance(o, cmd.Outcome)
    ]
    assert len({o.message_id for o in (*first, *again) if isinstance(o, cmd.Outcome)}) == 10
    # The brand, the contacts' index entries, the contacts and their conversations came in
    # batched queries: not one aggregate was read on its own.
    assert by_id == []


def test_a_batch_refused_part_way_leaves_no_change_in_the_cache(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand_id, conversation_id = sent_conversation(core)
    before = core.get(Conversation, conversation_id).version

    tag = cmd.TagConversation(brand_id=brand_id, conversation_id=conversation_id, add=["vip"])
    refused = cmd.SendMessage(brand_id=brand_id, to="not a number", body="x")
    results = core.handle_many([(tag, None), (refused, None)])

    assert isinstance(results[1], DomainError)  # decided again one by one: the tag alone
    after = core.get(Conversation, conversation_id)
    assert after.version == before + 1
    assert "vip" in after.tags
    cached = core.decisions.cached(conversation_id)
    assert cached is not None
    assert cached.version == after.version
    fresh = Core({**core.env}).get(Conversation, conversation_id)
    assert fresh.version == after.version


def test_a_unit_that_fails_after_changing_an_aggregate_evicts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand_id, conversation_id = sent_conversation(core)
    stored_version = core.get(Conversation, conversation_id).version

    def tag_then_fail(loader: object, command: cmd.TagConversation, now: object) -> object:
        conversation = core.get(Conversation, conversation_id)
        conversation.tag("changed", at=core.clock())
        raise RuntimeError("a bug after the change")

    monkeypatch.setitem(messagebus.HANDLERS, cmd.TagConversation, tag_then_fail)
    with pytest.raises(RuntimeError):
        core.handle(
            cmd.TagConversation(brand_id=brand_id, conversation_id=conversation_id, add=["x"])
        )
    assert core.decisions.cached(conversation_id) is None

    reloaded = core.decisions.load(conversation_id)
    assert isinstance(reloaded, Conversation)
    assert reloaded.version == stored_version
    assert "changed" not in reloaded.tags


def test_a_change_made_by_another_process_is_caught_up(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand_id, conversation_id = sent_conversation(core)
    other = Core({**core.env})
    other.handle(
        cmd.TagConversation(brand_id=brand_id, conversation_id=conversation_id, add=["elsewhere"])
    )
    core.handle(
        cmd.TagConversation(brand_id=brand_id, conversation_id=conversation_id, add=["here"])
    )
    stored = Core({**core.env}).get(Conversation, conversation_id)
    assert {"elsewhere", "here"} <= set(stored.tags)


def test_what_another_process_creates_or_changes_is_seen_at_the_next_sync(
    tmp_path: Path,
) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    other = Core({**core.env})
    acme = ids.brand_id("acme")
    core.decisions.sync()
    assert core.decisions.load(acme) is None  # remembered as absent

    other.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    assert core.decisions.load(acme) is None  # not synced yet: still the last answer
    core.decisions.sync()
    brand = core.decisions.load(acme)
    assert isinstance(brand, Brand)
    assert core.decisions.foreign_seen >= 1

    other.add_sender(acme, Channel.SMS, "+33939000002")
    core.decisions.sync()
    again = core.decisions.load(acme)
    assert isinstance(again, Brand)
    assert again is not brand
    assert again.version == other.get(Brand, acme).version


def test_its_own_saves_cost_no_rescan(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand_id, conversation_id = sent_conversation(core)
    seen = core.decisions.foreign_seen  # the brand was registered outside a decision
    for tag in ("a", "b", "c"):
        core.handle(
            cmd.TagConversation(brand_id=brand_id, conversation_id=conversation_id, add=[tag])
        )
    assert core.decisions.foreign_seen == seen
    cached = core.decisions.cached(conversation_id)
    assert isinstance(cached, Conversation)
    assert {"a", "b", "c"} <= set(cached.tags)


def _bonjour() -> cmd.ReceiveMessage:
    return cmd.ReceiveMessage(
        provider="sandbox",
        provider_message_id="in-1",
        channel=Channel.SMS,
        sender="+33612345678",
        recipient="+33939000001",
        body="Bonjour",
    )


def test_records_written_once_are_not_kept_when_new(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    message = _bonjour()
    received = core.handle(message)
    assert received.conversation_id is not None
    seen = entry_id(IndexKind.PROVIDER_MESSAGE, inbound_key("sandbox", "in-1"))
    assert core.decisions.cached(seen) is None  # a per-message record: left to the store
    assert isinstance(core.decisions.cached(received.conversation_id), Conversation)
    again = core.handle(message)
    assert again.duplicate  # still found, in the store


def test_a_new_contacts_address_entry_is_kept_for_their_next_message(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand = core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    received = core.handle(_bonjour())
    address = parse_phone("+33612345678")
    kept = core.decisions.cached(
        entry_id(IndexKind.CONTACT_ADDRESS, contact_key(brand.id, address))
    )
    assert isinstance(kept, IndexEntry)  # read by every later message of theirs
    assert kept.target_id == received.contact_id
