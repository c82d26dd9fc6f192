"""Scenario 4, rebuild: every projection rebuilt from a store of at least N events.

The store is built first, the way the core worker builds it: the inbound traffic handled
through the core in batches (``Core.handle_many``, one transaction each) until the store
holds N events (an inbound message is one event, and a new conversation a few more). That
part is not timed, but its rate is reported. Then, with a fresh runtime in the same
process (no aggregate cached, the peak memory reset), each projection is rebuilt in turn as
``chainon projections rebuild all`` does it (``projections.rebuild``: into shadow tables from the
first event, then swapped in); the clock runs over those rebuilds only. The figure is the
store's events per second of that time; each projection reads every event, so the events
read are a multiple of it (reported too).

Afterwards every projection must have reached the store's last public event, the agent
queue must hold every conversation, and the store every message.
"""

from __future__ import annotations

import gc
import os
import time

from bench.accounting import received
from bench.memory import peak_rss, reset_peak
from bench.registry import Context, Kind, measurement
from bench.result import Missing, Result, own_peak_rss
from bench.traffic import BRAND_NUMBER, inbound, receive_commands

BATCH = 500  # commands a transaction, as the runtime's batcher makes them under load


@measurement("rebuild", Kind.SCENARIO, modes=("embedded", "distributed"))
def rebuild(ctx: Context) -> Result:
    """Every projection rebuilt from the store in one pass (as `projections rebuild all`)."""
    from chainon.domain.channels import Channel
    from chainon.domain.public_events import is_public
    from chainon.observability import configure_logging
    from chainon.projections.agent_queue import AgentQueue
    from chainon.projections.rebuild import rebuild_many
    from chainon.runtime import Runtime

    counts = ctx.counts
    settings = ctx.settings()
    configure_logging("WARNING", json=settings.log_json)

    runtime = Runtime(settings, roles=())
    try:
        core = runtime.core
        core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, BRAND_NUMBER)])
        sent = 0
        building = time.perf_counter()
        while (core.recorder.max_notification_id() or 0) < counts.rebuild_events:
            batch = receive_commands(BATCH, counts.conversations, start=sent)
            outcomes = core.handle_many([(m, None) for m in batch])
            refused = [r for r in outcomes if isinstance(r, Exception)]
            if refused:
                raise Missing(f"{len(refused)} inbound messages refused: {refused[0]!r}")
            sent += len(batch)
        built = time.perf_counter() - building
        build_rss = own_peak_rss()
    finally:
        runtime.close()
    del runtime, core
    gc.collect()
    reset_peak(os.getpid())  # from here on, the peak is the rebuild's own

    runtime = Runtime(settings, roles=())
    try:
        views = runtime.views
        head = runtime.core.recorder.max_notification_id() or 0
        names = sorted(views.projections)
        with ctx.stages() as cpu:
            started = time.perf_counter()
            events_read = rebuild_many(views, names)  # one pass, as `projections rebuild all`
            seconds = time.perf_counter() - started
        rebuild_rss = peak_rss(os.getpid()) or own_peak_rss()
        # A projection's position is that of the last event it was given: the store's
        # last public event (the index entries after it are no projection's business).
        tail = runtime.core.recorder.select_notifications(start=max(head - 999, 1), limit=1000)
        last_public = max((n.id for n in tail if is_public(n.topic)), default=0)
        behind = {
            name: last_public - position
            for name, p in views.projections.items()
            if (position := views.store.position(p)) < last_public
        }
        rows = views.store.query(AgentQueue(), "SELECT COUNT(*) AS n FROM {queue_items}", {})
        queued = int(rows[0]["n"]) if rows else 0
        ids = (m.provider_message_id for m in inbound(sent, counts.conversations))
        found = received(runtime.core, ids)
    finally:
        runtime.close()
    conversations = min(counts.conversations, sent)
    if found["received"] != sent or found["refused"] or behind or queued != conversations:
        raise Missing(
            f"of {sent} messages, {found['received']} in the store ({found['refused']} "
            f"refused); {queued} of {conversations} conversations in the agent queue; "
            f"projections behind the head: {behind or 'none'}"
        )
    return Result(
        name="rebuild",
        mode=ctx.mode,
        count=head,
        seconds=seconds,
        unit="events",
        limit="postgres.insert" if ctx.distributed else "sqlite.insert",
        cpu=cpu.seconds,
        rss={
            "chainon projections rebuild (this process, peak reset after the build)": (rebuild_rss),
            "building the store (this process, handle_many)": build_rss,
        },
        extra={
            "projections": len(names),
            "events_read": events_read,
            "events_applied_per_second": round(events_read * len(names) / seconds, 1),
            "messages": sent,
            "conversations": conversations,
            "build_seconds": round(built, 3),
            "build_messages_per_second": round(sent / built, 1),
            "build_events_per_second": round(head / built, 1),
            "commands_per_transaction": BATCH,
        },
        settings=settings.model_dump(mode="json"),
    )
