"""The dispatch worker on both buses: a link that is down holds up no other, on any partition.

A record for a link that keeps failing waits for that link's next try while the worker
goes on polling; the records after it, on its partition and the others, go at once. Its
partition is committed only up to it (a crash hands the rest out again), the others to
their end; once the link is back, everything is sent and committed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chainon.adapters.bus.embedded import EmbeddedBus
from chainon.adapters.bus.kafka import KafkaBus
from chainon.adapters.bus.port import Bus, Consumer, Outgoing, Record
from chainon.adapters.channels.port import (
    Accepted,
    ChannelRefusal,
    ChannelSink,
    OutboundMessage,
    RevokeMessage,
    TemporaryFailure,
)
from chainon.adapters.channels.sandbox import SandboxProvider
from chainon.dispatching import DispatchWorker
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt, RecordSendFailure
from chainon.domain.errors import NotFound
from chainon.record_handlers import DispatchHandler
from chainon.topic_records import INBOUND, DeadLetter, dump, read
from chainon.topics import Topics

pytestmark = pytest.mark.asyncio
STUCK = "+33600000000"  # the recipient whose messages go through the link that is down


class FlakyLink:
    """A provider link that fails for now (``TemporaryFailure``) until it is back."""

    name = "flaky"

    def __init__(self) -> None:
        self.down = True
        self.tries = 0
        self.sent: list[uuid.UUID] = []

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset({Channel.SMS})

    async def start(self, sink: ChannelSink) -> None:
        """Nothing to bind to."""

    async def stop(self) -> None:
        """Nothing to release."""

    async def send(self, message: OutboundMessage) -> Accepted:
        self.tries += 1
        if self.down:
            raise TemporaryFailure("the link is down")
        self.sent.append(message.message_id)
        return Accepted(provider=self.name, provider_message_id=f"fl-{message.message_id}")


class Nowhere:
    """A sink for the sandbox's receipts, which this test does not follow."""

    async def inbound(self, message: ReceiveMessage) -> None: ...

    async def receipt(self, receipt: RecordReceipt) -> None: ...

    async def refused(self, refusal: ChannelRefusal) -> None: ...


def outbound(recipient: str) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        brand_id=uuid.uuid4(),
        channel=Channel.SMS,
        sender="+33939000001",
        recipient=recipient,
        body="Votre colis arrive",
    )


async def route(message: OutboundMessage | RevokeMessage) -> str:
    return "flaky" if message.recipient == STUCK else "sandbox"


async def until(check: Callable[[], bool], within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, f"not within {within} s"
        await asyncio.sleep(0.02)


async def lags(consumer: Consumer) -> dict[tuple[str, int], int]:
    return await consumer.lag()


class DispatchContract:
    @pytest.fixture
    def bus(self) -> Bus:
        raise NotImplementedError("each backend's subclass provides a started bus")

    async def test_a_stuck_link_holds_up_no_other_and_commits_stop_at_it(self, bus: Bus) -> None:
        topics = Topics(f"t{uuid.uuid4().hex[:8]}")
        await bus.ensure_topics(topics.all)
        flaky = FlakyLink()
        sandbox = SandboxProvider(receipt_delay=60)
        await sandbox.start(Nowhere())
        handler = DispatchHandler({"flaky": flaky, "sandbox": sandbox}, route, bus, topics)
        consumer = bus.consumer(topics.group("dispatch"), [topics.outbound])
        worker = DispatchWorker(bus, consumer, handler, backoff=0.05, max_backoff=0.2)
        stuck = outbound(STUCK)
        others = [outbound(f"+336120000{i:02d}") for i in range(12)]
        records = [Outgoing(topics.outbound, "conversation-0", dump(stuck))]
        # The conversation of the stuck message first: another link's message of it goes.
        records += [
            Outgoing(topics.outbound, f"conversation-{i}", dump(m)) for i, m in enumerate(others)
        ]
        await bus.publish(records)
        stopping = asyncio.Event()
        task = asyncio.create_task(worker.run(stopping))
        try:
            sent = {m.message_id for m in others}
            await until(lambda: sent <= {m.message_id for m in sandbox.sent.values()}, 30.0)
            await until(lambda: flaky.tries >= 2, 5.0)  # failing, and tried again later
            assert flaky.sent == []
            await asyncio.sleep(0.5)  # a commit after the polls that followed
            held = {tp: n for tp, n in (await lags(consumer)).items() if n}
            assert len(held) == 1, held  # only the stuck record's partition holds back

            flaky.down = False
            await until(lambda: flaky.sent == [stuck.message_id], 5.0)
            for _ in range(100):
                if not any((await lags(consumer)).values()):
                    break
                await asyncio.sleep(0.05)
            assert not any((await lags(consumer)).values())
        finally:
            stopping.set()
            await asyncio.wait_for(task, 10)
            await sandbox.stop()

    async def test_a_stop_ends_the_retries_and_leaves_the_record_for_the_next_start(
        self, bus: Bus
    ) -> None:
        topics = Topics(f"t{uuid.uuid4().hex[:8]}")
        await bus.ensure_topics(topics.all)
        flaky = FlakyLink()
        handler = DispatchHandler({"flaky": flaky}, route, bus, topics)
        stuck = outbound(STUCK)
        await bus.publish([Outgoing(topics.outbound, "conversation-0", dump(stuck))])
        group = topics.group("dispatch")
        worker = DispatchWorker(bus, bus.consumer(group, [topics.outbound]), handler)
        stopping = asyncio.Event()
        task = asyncio.create_task(worker.run(stopping))
        await until(lambda: flaky.tries >= 1, 30.0)
        stopping.set()
        await asyncio.wait_for(task, 3.0)  # no retry keeps it: backoff is long, stop is not

        flaky.down = False
        again = DispatchWorker(bus, bus.consumer(group, [topics.outbound]), handler)
        stopping = asyncio.Event()
        task = asyncio.create_task(again.run(stopping))
        try:
            await until(lambda: flaky.sent == [stuck.message_id], 30.0)
        finally:
            stopping.set()
            await asyncio.wait_for(task, 10)


class TestEmbeddedDispatch(DispatchContract):
    @pytest.fixture
    async def bus(self, tmp_path: Path) -> AsyncIterator[Bus]:
        bus = EmbeddedBus(tmp_path / "bus.sqlite3")
        await bus.start()
        yield bus
        await bus.stop()


class TestKafkaDispatch(DispatchContract):
    @pytest.fixture
    async def bus(self, kafka_bootstrap: str) -> AsyncIterator[Bus]:
        bus = KafkaBus(kafka_bootstrap, partitions=4)
        await bus.start()
        yield bus
        await bus.stop()


async def test_a_record_that_can_go_nowhere_is_dead_lettered_and_its_message_failed(
    tmp_path: Path,
) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    await bus.start()
    topics = Topics("nowhere")

    async def unknown_brand(message: OutboundMessage | RevokeMessage) -> str:
        raise NotFound(f"no brand {message.brand_id}")

    handler = DispatchHandler({}, unknown_brand, bus, topics)
    lost = outbound("+33612345678")
    await bus.publish(
        [
            Outgoing(topics.outbound, "conversation-0", dump(lost)),
            Outgoing(topics.outbound, "conversation-1", b"{not json"),
        ]
    )
    worker = DispatchWorker(bus, bus.consumer(topics.group("dispatch"), [topics.outbound]), handler)
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    results = bus.consumer("probe", [topics.inbound, topics.dlq(topics.outbound)])
    await results.start()
    try:
        got: list[Record] = []
        for _ in range(100):
            got += await results.poll(10, timeout=0.1)
            if len(got) >= 3:
                break
    finally:
        await results.stop()
        stopping.set()
        await asyncio.wait_for(task, 5)
        await bus.stop()
    letters = [DeadLetter.model_validate_json(r.value) for r in got if r.topic != topics.inbound]
    assert sorted(letter.reason for letter in letters) == ["invalid record", "refused: NotFound"]
    (failed,) = [read(INBOUND, r.value) for r in got if r.topic == topics.inbound]
    assert isinstance(failed, RecordSendFailure)
    assert failed.message_id == lost.message_id
    assert failed.reason == f"dead-lettered: no brand {lost.brand_id}"
