"""Watches the agent queue for the steady load, in a process of its own, so that its work
is not the measured process's:

    python -m bench.queue_watch BRAND_ID COUNT CONVERSATIONS OUTPUT.json

Chainon's settings come from the ``CHAINON_*`` variables, as a worker's do. It prints
``ready`` once it has the store and the read models open, then loops until every message
of the traffic (``bench.traffic``, COUNT over CONVERSATIONS) is shown, or SIGTERM:

1. it reads the ``MessageReceived`` events the store recorded since its last look, to learn
   each message's conversation and position;
2. it asks the agent queue which conversations changed since the oldest position still
   pending (the rows ``projections.agent_queue.changes_since`` answers, two columns of them);
3. a message is shown when its conversation's row has reached the message's position
   (a row's ``updated_position`` only grows, and a conversation's events are applied in
   order), and it takes the time of that answer.

When it first finds a message in the store is kept too, to tell the core's share of the
latency from the relay's and the views'.

It sleeps at least ``INTERVAL`` between looks, and nine times the CPU time a look took, so
that it never takes more than a tenth of a core however far Chainon falls behind. OUTPUT
gets, per provider message id, the ``time.monotonic()`` at which it was found stored and
shown (the clock is the machine's, shared by every process).
"""

from __future__ import annotations

import json
import resource
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.sqlite import SQLiteReadModels

if TYPE_CHECKING:
    from chainon.core import Core

INTERVAL = 0.005
# Sleeps this many times the CPU a look took: at most a tenth of a core, on a machine of two
# where every share it takes is the measured processes' loss.
SLEEP_PER_CPU = 9
BATCH = 5000
# The agent queue's rows as its changes stream orders them (``changes_since``), only the
# two columns that say whether a row includes a message: building whole rows, with their
# flags, hand-off and preview, would be most of a look's cost.
ROWS_SINCE = (
    "SELECT i.conversation_id, i.updated_position FROM {queue_items} i "
    "WHERE i.brand_id = %(b)s AND i.updated_position > %(p)s"
)


class Watcher:
    def __init__(self, core: Core, views: ReadModelStore, brand_id: str, expected: set[str]):
        self.core = core
        self.views = views
        self.brand_id = brand_id
        self.expected = expected
        self.next = (core.recorder.max_notification_id() or 0) + 1
        self.pending: dict[str, list[tuple[int, str]]] = {}  # conversation → (position, id)
        self.stored: dict[str, float] = {}  # when the look first found it in the store
        self.shown: dict[str, float] = {}
        self.looks = 0
        self.stopping = False

    def look(self) -> None:
        from bench.accounting import RECEIVED
        from chainon.projections.agent_queue import AgentQueue

        while batch := self.core.recorder.select_notifications(
            start=self.next, limit=BATCH, topics=(RECEIVED,)
        ):
            read_at = time.monotonic()
            for notification in batch:
                event: Any = self.core.mapper.to_domain_event(notification)
                if event.provider_message_id in self.expected:
                    conversation = str(event.originator_id)
                    self.pending.setdefault(conversation, []).append(
                        (notification.id, event.provider_message_id)
                    )
                    self.stored[event.provider_message_id] = read_at
            self.next = batch[-1].id + 1
        if self.pending:
            since = min(p for waiting in self.pending.values() for p, _ in waiting) - 1
        else:
            since = self.next - 1
        changed = self.views.query(AgentQueue(), ROWS_SINCE, {"b": self.brand_id, "p": since})
        at = time.monotonic()
        for row in changed:
            conversation, reached = str(row["conversation_id"]), row["updated_position"]
            waiting = self.pending.get(conversation)
            if not waiting:
                continue
            for position, message in waiting:
                if position <= reached:
                    self.shown[message] = at
            rest = [(p, m) for p, m in waiting if p > reached]
            if rest:
                self.pending[conversation] = rest
            else:
                del self.pending[conversation]
        self.looks += 1

    def run(self) -> None:
        while len(self.shown) < len(self.expected) and not self.stopping:
            began = time.process_time()
            self.look()
            time.sleep(max(INTERVAL, SLEEP_PER_CPU * (time.process_time() - began)))


def main(argv: list[str]) -> int:
    from bench.traffic import inbound
    from chainon.core import Core
    from chainon.event_store import store_env
    from chainon.settings import Settings, StoreKind

    brand_id, count, conversations, output = argv[0], int(argv[1]), int(argv[2]), Path(argv[3])
    settings = Settings()
    core = Core(store_env(settings))
    views: ReadModelStore
    if settings.store is StoreKind.SQLITE:
        views = SQLiteReadModels(settings.views_path, read_only=True)
    else:
        from chainon.projections.postgres import PostgresReadModels

        views = PostgresReadModels(settings.postgres_dsn, settings.postgres_schema or "public")
    expected = {m.provider_message_id for m in inbound(count, conversations)}
    watcher = Watcher(core, views, brand_id, expected)

    def stop(*_: object) -> None:
        watcher.stopping = True

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    started = time.monotonic()
    ready_cpu = _cpu()  # its imports and set-up ran before the clock
    try:
        watcher.run()
    finally:
        seconds = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        document = {
            "shown": watcher.shown,
            "stored": watcher.stored,
            "looks": watcher.looks,
            "look_interval_ms": round(seconds / max(watcher.looks, 1) * 1000, 2),
            "cpu_seconds": round(_cpu() - ready_cpu, 3),
            "peak_rss": usage.ru_maxrss * 1024,
        }
        output.write_text(json.dumps(document))
        views.close()
        core.close()
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
