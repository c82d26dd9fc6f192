"""The core's decision cache on both stores: batches prefetch what they look up in one
query, and two cores writing the same store (two workers, or a worker and the CLI) never
decide on what the other has already changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from chainon.adapters.persistence.popo import RecorderLog
from chainon.adapters.persistence.port import log_of
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import parse_phone
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.index import IndexEntry, IndexKind, entry_id
from chainon.event_store import store_env
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, make_settings

CONSUMERS = [f"+3361234{n:04d}" for n in range(7)]


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(StoreKind.SQLITE, tmp_path)
    dsn: str = request.getfixturevalue("postgres_dsn")
    return make_settings(StoreKind.POSTGRES, tmp_path, dsn)


def a_core(settings: Settings) -> Core:
    env = {**store_env(settings), "SINGLE_ROW_TRACKING": "y", "AGGREGATE_CACHE_MAXSIZE": "1000"}
    return Core(env)


@pytest.fixture
def cores(settings: Settings) -> Iterator[tuple[Core, Core]]:
    first, second = a_core(settings), a_core(settings)
    first.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)])
    yield first, second
    first.close()
    second.close()


def inbound(provider_id: str, sender: str) -> cmd.ReceiveMessage:
    return cmd.ReceiveMessage(
        provider="sandbox",
        provider_message_id=provider_id,
        channel=Channel.SMS,
        sender=sender,
        recipient=BRAND_SMS,
        body=f"message {provider_id}",
    )


def test_one_query_answers_for_many_aggregates_as_one_query_each_would(
    cores: tuple[Core, Core],
) -> None:
    core, _ = cores
    outcomes = core.handle_many([(inbound(f"p-{n}", CONSUMERS[n % 3]), None) for n in range(9)])
    wanted: list[UUID] = [uuid4()]  # one that does not exist
    for outcome in outcomes:
        assert isinstance(outcome, cmd.Outcome)
        assert outcome.conversation_id is not None
        assert outcome.contact_id is not None
        wanted += [outcome.conversation_id, outcome.contact_id]
    wanted.append(uuid4())
    together = log_of(core.recorder).events_of(wanted)
    one_by_one = [e for i in dict.fromkeys(wanted) for e in core.recorder.select_events(i)]
    key = [(UUID(str(e.originator_id)), e.originator_version, e.topic, e.state) for e in together]
    assert sorted(key) == sorted(
        (UUID(str(e.originator_id)), e.originator_version, e.topic, e.state) for e in one_by_one
    )
    assert len(together) == len(one_by_one) > 9


def test_a_redelivered_batch_is_recognised_from_the_prefetched_index(
    cores: tuple[Core, Core],
) -> None:
    core, _ = cores
    batch = [(inbound(f"p-{n}", CONSUMERS[n % 4]), None) for n in range(12)]
    first = core.handle_many(batch)
    again = core.handle_many(batch)
    for before, after in zip(first, again, strict=True):
        assert isinstance(before, cmd.Outcome)
        assert isinstance(after, cmd.Outcome)
        assert before.changed
        assert not before.duplicate
        assert after.duplicate
        assert not after.changed
        assert after.message_id == before.message_id
    fresh = Core({**core.env})
    received = sum(
        len(fresh.get(Conversation, o.conversation_id).messages)
        for o in {o.conversation_id: o for o in first if isinstance(o, cmd.Outcome)}.values()
        if o.conversation_id is not None
    )
    assert received == 12


def test_two_cores_taking_turns_on_the_same_contacts_lose_and_double_nothing(
    cores: tuple[Core, Core],
) -> None:
    one, other = cores
    sent = 0
    for turn in range(6):
        core = one if turn % 2 == 0 else other
        batch = [(inbound(f"t{turn}-{n}", CONSUMERS[n % 3]), None) for n in range(5)]
        for outcome in core.handle_many(batch):
            assert isinstance(outcome, cmd.Outcome)
            assert outcome.changed
        sent += len(batch)
    assert one.decisions.foreign_seen > 0  # it saw the other's writes and dropped them
    fresh = Core({**one.env})
    brand_id = ids.brand_id("acme")
    total = 0
    for consumer in CONSUMERS[:3]:
        contact = fresh.find_contact(brand_id, parse_phone(consumer))
        assert contact is not None
        for conversation in fresh.conversations_of(contact):
            total += len(conversation.messages)
            assert len({m.provider_message_id for m in conversation.messages.values()}) == len(
                conversation.messages
            )
    assert total == sent
    seen = fresh.find(IndexEntry, entry_id(IndexKind.PROVIDER_MESSAGE, "in:sandbox:t5-4"))
    assert seen is not None


def test_the_light_log_scan_names_what_the_notifications_do(cores: tuple[Core, Core]) -> None:
    """The low-water mark's scan reads the log without the events' state: same ids,
    aggregates, versions and topics as eventsourcing's own read, and the same bounds."""
    core, _ = cores
    core.handle_many([(inbound(f"log-{i}", CONSUMERS[i % 3]), None) for i in range(6)])
    head = core.recorder.max_notification_id() or 0
    full = core.recorder.select_notifications(start=2, limit=head, stop=head - 1)
    light = log_of(core.recorder).logged(2, head - 1, head)
    assert [(n.id, n.aggregate_id, n.version, n.topic) for n in light] == [
        (n.id, str(UUID(str(n.originator_id))), n.originator_version, n.topic) for n in full
    ]
    assert len(light) == head - 2
    assert [n.id for n in log_of(core.recorder).logged(2, head, 3)] == [2, 3, 4]


def test_both_stores_are_read_in_one_query_not_through_the_recorder(
    cores: tuple[Core, Core],
) -> None:
    core, _ = cores
    assert not isinstance(log_of(core.recorder), RecorderLog)
    assert not isinstance(core.decisions.log, RecorderLog)


def test_reads_while_the_core_decides_on_the_same_conversation_get_their_own_snapshot(
    cores: tuple[Core, Core],
) -> None:
    """Readers of a busy conversation (the API's threads) while the core decides on it:
    no read fails, none shares an instance with another or with the decisions, and each
    is a whole committed version (its messages are exactly those its version counts)."""
    core, _ = cores
    *_, opened = core.handle_many([(inbound(f"h-{n}", CONSUMERS[0]), None) for n in range(60)])
    assert isinstance(opened, cmd.Outcome)
    conversation_id = opened.conversation_id
    assert conversation_id is not None
    writing = threading.Event()
    errors: list[BaseException] = []
    reads: list[Conversation] = []

    def read() -> None:
        while writing.is_set():
            try:
                reads.append(core.get(Conversation, conversation_id))
                assert core.inbound_outcome("sandbox", "h-0") is not None
            except BaseException as error:  # reported below, in the test
                errors.append(error)

    writing.set()
    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for n in range(30):
            assert core.handle(inbound(f"m-{n}", CONSUMERS[0])).changed
    finally:
        writing.clear()
        for reader in readers:
            reader.join()

    assert errors == []
    assert len(reads) > 4
    assert len({id(r) for r in reads}) == len(reads)
    assert all(r is not core.decisions.cached(conversation_id) for r in reads)
    assert all(len(r.messages) == r.version - 1 for r in reads)  # opened, then one each
    assert len(core.get(Conversation, conversation_id).messages) == 90


def test_an_absent_id_is_remembered_until_another_writer_makes_it_exist(
    cores: tuple[Core, Core],
) -> None:
    one, other = cores
    seen = entry_id(IndexKind.PROVIDER_MESSAGE, "in:sandbox:later")
    asked: list[UUID] = []
    get = one.decisions.events.get

    def counted(originator_id: UUID, **kw: object) -> object:
        asked.append(originator_id)
        return get(originator_id, **kw)  # type: ignore[arg-type]

    one.decisions.events.get = counted  # type: ignore[method-assign]
    one.decisions.sync()
    assert one.decisions.load(seen) is None
    one.decisions.sync()  # nothing written since: the answer stands, without a query
    assert one.decisions.load(seen) is None
    assert asked == [seen]
    # the other core records that message: its index entry now exists
    [outcome] = other.handle_many([(inbound("later", CONSUMERS[0]), None)])
    assert isinstance(outcome, cmd.Outcome)
    assert outcome.changed
    one.decisions.sync()
    assert one.decisions.load(seen) is not None
    # and the first core takes a redelivery of it for what it is
    [again] = one.handle_many([(inbound("later", CONSUMERS[0]), None)])
    assert isinstance(again, cmd.Outcome)
    assert again.duplicate
