"""What a channel refuses lands on the inbound topic's dead letters, on the embedded bus, in
the form the AsyncAPI document promises; and the channel's other messages go on."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from chainon.adapters.bus.embedded import EmbeddedBus
from chainon.adapters.bus.port import Record
from chainon.adapters.channels.port import MAX_RAW, ChannelRefusal
from chainon.adapters.channels.smpp.link import SmppLink
from chainon.adapters.channels.smpp.provider import SmppProvider
from chainon.asyncapi import document
from chainon.domain.commands import ReceiveMessage
from chainon.record_handlers import ChannelPublisher
from chainon.topic_records import INBOUND, DeadLetter, read
from chainon.topics import Topics
from devtools.smsc_simulator import Smsc

TOPICS = Topics()
DLQ = TOPICS.dlq(TOPICS.inbound)


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[EmbeddedBus]:
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    await bus.start()
    await bus.ensure_topics(TOPICS.all)
    yield bus
    await bus.stop()


async def records_of(bus: EmbeddedBus, topic: str, expected: int) -> list[Record]:
    consumer = bus.consumer(f"test-{topic}", [topic])
    await consumer.start()
    got: list[Record] = []
    try:
        for _ in range(100):
            got += await consumer.poll(100, timeout=0.1)
            if len(got) >= expected:
                break
    finally:
        await consumer.stop()
    assert len(got) == expected, got
    return got


def valid_dead_letter(value: bytes) -> None:
    doc = document()
    payload = doc["components"]["messages"]["DeadLetter"]["payload"]
    schema = {**payload, "components": doc["components"]}
    jsonschema.validators.validator_for(schema)(schema).validate(json.loads(value))


async def test_a_refusal_is_a_dead_letter_of_the_inbound_topic(bus: EmbeddedBus) -> None:
    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    refusal = ChannelRefusal(
        provider="smtp",
        reason="malformed email",
        detail="no From header",
        raw="x" * (MAX_RAW + 10),
        at=at,
    )
    await ChannelPublisher(bus, TOPICS).refused(refusal)

    (record,) = await records_of(bus, DLQ, 1)
    valid_dead_letter(record.value)
    letter = DeadLetter.model_validate_json(record.value)
    assert (record.key, dict(record.headers)) == ("smtp", {"reason": b"malformed email"})
    assert (letter.reason, letter.error, letter.failed_at) == (
        "malformed email",
        "no From header",
        at,
    )
    # It came off a channel, not a topic: no partition, no offset, the provider instead.
    assert (letter.topic, letter.partition, letter.offset, letter.key, letter.attempts) == (
        "smtp",
        -1,
        -1,
        "smtp",
        1,
    )
    assert letter.value.startswith("x" * MAX_RAW)
    assert letter.value.endswith("[… 10 more characters not kept]")


# The whole way: the SMSC simulator, the SMPP link, the publisher, the embedded bus


@pytest.fixture(scope="module")
def smsc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsc]:
    with Smsc(directory=tmp_path_factory.mktemp("smsc"), pdu_log=False) as simulator:
        yield simulator


async def test_an_unparsable_pdu_is_dead_lettered_and_the_next_mo_is_published(
    bus: EmbeddedBus, smsc: Smsc
) -> None:
    provider = SmppProvider(
        SmppLink(
            name="main",
            host="127.0.0.1",
            port=smsc.port,
            system_id="chainon",
            password="secret",
        )
    )
    await provider.start(ChannelPublisher(bus, TOPICS))
    try:
        await provider.ready()
        unknown_command = struct.pack(">LLLL", 16, 0x99, 0, 0x7FFF0001)
        smsc.raw(unknown_command)
        smsc.mo(source="+33612345678", destination="+33939000001", text="Toujours là ?")
        (letter_record,) = await records_of(bus, DLQ, 1)
        (inbound,) = await records_of(bus, TOPICS.inbound, 1)
    finally:
        await asyncio.wait_for(provider.stop(), 10)

    valid_dead_letter(letter_record.value)
    letter = DeadLetter.model_validate_json(letter_record.value)
    assert (letter.reason, letter.topic, letter.value) == (
        "unparsable PDU",
        "smpp:main",
        unknown_command.hex(),
    )
    message = read(INBOUND, inbound.value)
    assert isinstance(message, ReceiveMessage)
    assert message.body == "Toujours là ?"
