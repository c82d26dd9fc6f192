"""Scenario 1 through ``chainon serve``'s default process tree (``…@embedded-tree``): the core
and the API in the parent, the views, relay and dispatch in the child it supervises, on the
same SQLite store and embedded log as the one-process variant.

``chainon serve`` is started and answers ``/readyz`` before the clock starts, so its two
interpreters' start-up is not timed. The clock then runs from the first record of the burst
published on the inbound topic (by this process, into the embedded log's file, as a channel
adapter of another process would) until

- stored: the core's group has taken every inbound record;
- relayed: the relay's tracked position reached the store's head;
- projected: every read model reached it.

This process reads those positions from the files the tree writes; it plays no role.
Afterwards every message is looked for in the store; a missing, refused or dead-lettered one
fails the scenario.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import TYPE_CHECKING

from bench.accounting import received
from bench.fleet import ROOT, STOP_SECONDS, answers, environment, free_port, guarded
from bench.memory import Watch
from bench.registry import Context
from bench.result import Missing, Result, own_peak_rss
from bench.scenarios.inbound_burst import (
    Progress,
    embedded_result,
    store_progress,
    until_caught_up,
)
from bench.traffic import BRAND_NUMBER, inbound, receive_commands

if TYPE_CHECKING:
    from chainon.adapters.bus.port import Bus
    from chainon.runtime import Runtime
    from chainon.settings import Settings

LOAD_BATCH = 1000
START_WITHIN = 120.0
PROCESSES = 2  # chainon serve's default: CHAINON_EMBEDDED_PROCESSES


async def tree_burst(ctx: Context) -> Result:
    from chainon.adapters.bus.port import Outgoing
    from chainon.domain.channels import Channel
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime, make_bus
    from chainon.topic_records import conversation_key, dump

    counts = ctx.counts
    count = counts.messages
    settings = ctx.settings(log_level="WARNING")
    configure_logging(settings.log_level, json=settings.log_json)
    # Not started: it creates the store, registers the brand, then only reads positions.
    observer = Runtime(settings)
    observer.core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, BRAND_NUMBER)])
    topics = observer.topics
    messages = receive_commands(count, counts.conversations)
    records = [
        Outgoing(topics.inbound, conversation_key(m.sender, m.recipient), dump(m)) for m in messages
    ]
    head_before = observer.core.recorder.max_notification_id() or 0
    serve = spawn(ctx, settings)
    loader = make_bus(settings)
    try:
        await ready(serve)
        with Watch({"chainon serve (tree)": serve.process.pid}, interval=0.25) as watch:
            await loader.start()
            cpu = ctx.stages(threads=False).start()
            started = time.perf_counter()
            for start in range(0, count, LOAD_BATCH):
                await loader.publish(records[start : start + LOAD_BATCH])
            loaded = time.perf_counter() - started
            marks = await until_caught_up(_progress(observer, loader, serve), started, count)
            seconds = time.perf_counter() - started
            cpu.stop()
            dead = await loader.consumer("bench-dead-letters", [topics.dlq(topics.inbound)]).lag()
        rss = dict(watch.peaks)
    finally:
        await loader.stop()
        serve.stop()
    try:
        ids = (m.provider_message_id for m in inbound(count, counts.conversations))
        found = await asyncio.to_thread(received, observer.core, ids)
        head = observer.core.recorder.max_notification_id() or 0
    finally:
        observer.close()
    return embedded_result(
        ctx,
        found=found,
        dead_letters=sum(dead.values()),
        seconds=seconds,
        events=head - head_before,
        rss={**rss, "bench (publisher, observer)": own_peak_rss()},
        cpu=cpu.seconds,
        extra={"processes": PROCESSES, **marks, "publish_seconds": loaded},
        settings=settings,
    )


class Serve:
    """``chainon serve`` as a child of this process, stopped by its PID."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: str) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    def tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as log:
                return "\n".join(log.read().splitlines()[-lines:])
        except OSError:
            return ""

    def check(self) -> None:
        if self.process.poll() is not None:
            raise Missing(f"chainon serve exited with {self.process.returncode}:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM (the tree stops its child first), SIGKILL if it has not exited in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(ctx: Context, settings: Settings) -> Serve:
    port = free_port()
    log_path = ctx.data_dir / "serve.log"
    env = environment(settings, port=port, embedded_processes=PROCESSES)
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            guarded("-m", "chainon.cli", "serve", "--port", str(port)),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Serve(process, port, str(log_path))


async def ready(serve: Serve) -> None:
    url = f"http://127.0.0.1:{serve.port}/readyz"
    if not await answers(url, serve.check, time.monotonic() + START_WITHIN):
        raise Missing(f"chainon serve not ready in {START_WITHIN:.0f}s:\n{serve.tail()}")


def _progress(observer: Runtime, loader: Bus, serve: Serve) -> Progress:
    """The positions the tree stores, read from its files; ``serve`` dying stops the wait."""

    def views_position() -> int:
        return min(status.position for status in observer.views.status())

    async def projected() -> int:
        return await asyncio.to_thread(views_position)

    return store_progress(
        observer, loader, asyncio.to_thread, projected, check=serve.check, tail=serve.tail
    )
