"""Libraries' log lines (the Kafka client, uvicorn) go through Chainon's JSON logging, and a
condition repeated during an outage is one line per interval, with a count."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from chainon.observability import configure_logging


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_repeated_library_line_is_written_once_per_interval_with_a_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True, repeat_interval=0.5)
    client = logging.getLogger("aiokafka.conn")
    for attempt in range(1000):
        client.error("Unable connect to %r: %s", "127.0.0.1:9", f"attempt {attempt}")
    logging.getLogger("aiokafka.cluster").warning("Topic %s is not available", "t")
    time.sleep(0.6)
    client.error("Unable connect to %r: %s", "127.0.0.1:9", "attempt 1000")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["level"], line["event"]) for line in lines] == [
        ("aiokafka.conn", "error", "Unable connect to '127.0.0.1:9': attempt 0"),
        ("aiokafka.cluster", "warning", "Topic t is not available"),
        ("aiokafka.conn", "error", "Unable connect to '127.0.0.1:9': attempt 1000"),
    ]
    assert "suppressed" not in lines[0]
    assert lines[2]["suppressed"] == 999
    assert all("timestamp" in line for line in lines)


def test_the_kafka_client_without_its_broker_writes_a_few_json_lines() -> None:
    """The real client, retrying a broker that is down for three seconds."""
    script = textwrap.dedent(
        f"""
        import asyncio, time
        from aiokafka import AIOKafkaConsumer
        from chainon.observability import configure_logging

        configure_logging("INFO", json=True)

        async def main() -> None:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                consumer = AIOKafkaConsumer("t", bootstrap_servers="127.0.0.1:{closed_port()}")
                try:
                    await consumer.start()
                except Exception:
                    pass
                finally:
                    await consumer.stop()

        asyncio.run(main())
        """
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stderr.splitlines()
    assert lines, "the client logged nothing: the test proves nothing"
    parsed = [json.loads(line) for line in lines]  # every line is JSON
    assert {line["logger"].split(".")[0] for line in parsed} == {"aiokafka"}
    conditions = {(line["logger"], line["level"]) for line in parsed}
    assert len(lines) <= 2 * len(conditions), lines  # once each, and maybe once more
