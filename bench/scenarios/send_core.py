"""The send path's decisions alone: how many sends a second the core can record, with
nothing else running — no HTTP, no relay, no projections, no dispatch, no SMPP.

Every send is three facts recorded at three different times, so three commands decided
on its conversation: ``SendMessage`` (queued), ``RecordSent`` (the provider took it) and
``RecordReceipt`` (its delivery receipt). They go through ``Core.handle_many`` in batches
of ``BATCH`` commands, one transaction each, as the runtime's batcher groups them under
load; each recipient is a conversation of its own (a campaign). This is the ceiling of
``send-smpp`` (the same work with everything around it), measured in the same run: the
whole path cannot record sends faster than the core alone decides them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from bench.accounting import delivered as delivered_in_store
from bench.registry import Context, Kind, measurement
from bench.result import Latency, Missing, Result, own_peak_rss

if TYPE_CHECKING:
    from chainon.core import Core
    from chainon.domain.commands import Command, Outcome

BATCH = 500  # commands a transaction, as the runtime's batcher makes them under load
SENDER = "+33939000001"
PROVIDER = "bench"
BODY = "Votre colis arrive demain entre 9h et 12h. Repondez STOP pour ne plus recevoir."


@measurement("send-core", Kind.SCENARIO, modes=("embedded", "distributed"))
def send_core(ctx: Context) -> Result:
    """The core alone deciding each send's three commands (send, sent, receipt), batched."""
    from chainon.domain import commands as cmd
    from chainon.domain.channels import Channel
    from chainon.domain.message_status import MessageStatus
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime

    count = ctx.counts.sends
    settings = ctx.settings()
    configure_logging("WARNING", json=settings.log_json)
    runtime = Runtime(settings, roles=())  # the core and its store, no worker
    try:
        core = runtime.core
        brand = core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, SENDER)])
        transactions: list[float] = []
        sent: set[UUID] = set()
        cpu = ctx.stages(threads=False).start()
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            numbers = range(start, min(start + BATCH, count))
            sends = [
                cmd.SendMessage(brand_id=brand.id, to=f"+3361{i:07d}", body=BODY) for i in numbers
            ]
            queued = _decide(core, sends, transactions)
            taken = [
                cmd.RecordSent(
                    conversation_id=_known(o.conversation_id),
                    message_id=_known(o.message_id),
                    provider=PROVIDER,
                    provider_message_id=f"p{i}",
                )
                for i, o in zip(numbers, queued, strict=True)
            ]
            _decide(core, taken, transactions)
            receipts = [
                cmd.RecordReceipt(
                    provider=PROVIDER, provider_message_id=f"p{i}", status=MessageStatus.DELIVERED
                )
                for i in numbers
            ]
            _decide(core, receipts, transactions)
            sent.update(_known(o.message_id) for o in queued)
        seconds = time.perf_counter() - started
        cpu.stop()
        delivered = len(delivered_in_store(core, sent))
    finally:
        runtime.close()
    if delivered != count:
        raise Missing(f"of {count} sends, {len(sent)} queued and {delivered} delivered")
    return Result(
        name="send-core",
        mode=ctx.mode,
        count=count,
        seconds=seconds,
        unit="messages",
        latency=Latency.of(transactions),
        latency_of=f"a transaction of up to {BATCH} commands",
        limit="postgres.insert" if ctx.distributed else "sqlite.insert",
        baselines=(
            (
                "eventsourcing.postgres.save-each",
                "eventsourcing.postgres.save-100",
            )
            if ctx.distributed
            else ("eventsourcing.sqlite.save-each", "eventsourcing.sqlite.save-100")
        ),
        rss={"chainon core (this process)": own_peak_rss()},
        cpu=cpu.seconds,
        extra={
            "delivered": delivered,
            "commands_per_second": round(3 * count / seconds, 1),
            "commands_per_transaction": BATCH,
        },
        settings=settings.model_dump(mode="json"),
    )


def _decide(core: Core, commands: Sequence[Command], transactions: list[float]) -> list[Outcome]:
    begun = time.perf_counter()
    outcomes = core.handle_many([(c, None) for c in commands])
    transactions.append(time.perf_counter() - begun)
    refused = [o for o in outcomes if isinstance(o, Exception) or o.refused]
    if refused:
        raise Missing(f"{len(refused)} of {len(commands)} commands refused: {refused[0]!r}")
    return [o for o in outcomes if not isinstance(o, Exception)]


def _known(value: UUID | None) -> UUID:
    if value is None:
        raise Missing("a send was accepted without its conversation or message id")
    return value
