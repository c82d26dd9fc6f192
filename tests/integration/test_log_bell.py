"""The embedded log's doorbell: a consumer waiting on the log hears another process's write at
once, instead of when its poll's timer runs out.

Each poll here waits up to a minute; the test gives it ten seconds. Without the bell the
poll would sleep through its whole timer and the test fails: the assertion is on what is
heard, not on a duration.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainon.adapters.bus.embedded import EmbeddedBus
from chainon.adapters.bus.log_bell import Bell, bells_of
from chainon.adapters.bus.port import Outgoing

LONG_POLL = 60.0
HEARD_WITHIN = 10.0

PUBLISH = """
import asyncio, sys
from pathlib import Path
from chainon.adapters.bus.embedded import EmbeddedBus
from chainon.adapters.bus.port import Outgoing

async def main() -> None:
    bus = EmbeddedBus(Path(sys.argv[1]))
    await bus.start()
    await bus.publish([Outgoing("t.bell", "k", b"from another process")])
    await bus.stop()

asyncio.run(main())
"""


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    # A short directory: a datagram socket's path is limited to 107 bytes.
    short = Path("/tmp") / f"bell-{os.getpid()}-{id(tmp_path) % 100000}"
    short.mkdir()
    try:
        yield short / "bus.sqlite3"
    finally:
        shutil.rmtree(short)


async def test_a_write_from_another_process_wakes_a_waiting_consumer(log_file: Path) -> None:
    bus = EmbeddedBus(log_file)
    await bus.start()
    consumer = bus.consumer("g", ["t.bell"])
    await consumer.start()
    try:
        waiting = asyncio.create_task(consumer.poll(10, timeout=LONG_POLL))
        await asyncio.sleep(0.2)  # the consumer found nothing and waits
        assert not waiting.done()
        publisher = await asyncio.create_subprocess_exec(sys.executable, "-c", PUBLISH, log_file)
        assert await publisher.wait() == 0
        records = await asyncio.wait_for(waiting, HEARD_WITHIN)
        assert [r.value for r in records] == [b"from another process"]
    finally:
        await consumer.stop()
        await bus.stop()
    assert list(bells_of(log_file).iterdir()) == []  # its socket went with it


async def test_two_buses_on_one_log_ring_each_other_not_themselves(log_file: Path) -> None:
    reader, writer = EmbeddedBus(log_file), EmbeddedBus(log_file)
    await reader.start()
    await writer.start()
    consumers = [reader.consumer("r", ["t.bell"]), writer.consumer("w", ["t.bell"])]
    for consumer in consumers:
        await consumer.start()
    try:
        heard_before = reader.news(["t.bell"])
        other_before = reader.news(["t.other"])
        waiting = asyncio.create_task(consumers[0].poll(10, timeout=LONG_POLL))
        await asyncio.sleep(0.2)
        await writer.publish([Outgoing("t.bell", "k", b"one")])
        records = await asyncio.wait_for(waiting, HEARD_WITHIN)
        assert [r.value for r in records] == [b"one"]
        assert reader.news(["t.bell"]) == heard_before + 1
        assert reader.news(["t.other"]) == other_before  # its consumers were not woken
        assert len(list(bells_of(log_file).iterdir())) == 2
    finally:
        for consumer in consumers:
            await consumer.stop()
        await reader.stop()
        await writer.stop()


async def test_a_socket_left_by_a_killed_process_is_removed_by_the_next_ring(
    log_file: Path,
) -> None:
    directory = bells_of(log_file)
    directory.mkdir(parents=True)
    stale = directory / "999999.0"
    orphan = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    orphan.bind(str(stale))
    orphan.close()  # closed without unlinking, as a SIGKILL leaves it
    assert stale.exists()
    Bell(directory).ring()
    assert not stale.exists()


def test_a_log_too_deep_for_a_socket_path_falls_back_to_polling(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    loop = asyncio.new_event_loop()
    try:
        bell = Bell(deep)
        assert bell.listen(loop, lambda said: None) is False
        bell.ring()  # nobody to ring: nothing happens, nothing is raised
        bell.close()
    finally:
        loop.close()


def test_a_directory_it_cannot_make_leaves_the_consumers_to_their_timer(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    loop = asyncio.new_event_loop()
    try:
        bell = Bell(blocked / "bells")
        assert bell.listen(loop, lambda said: None) is False  # logged, not raised
        bell.ring(b"t")  # nor does a writer fail on it
        bell.close()
    finally:
        loop.close()
