"""The deadline scheduler: due deadlines from the read models become commands.

Three kinds run on it: RCS fallback deadlines (``fallback_deadlines``: revoke an
undelivered RCS message, then send its SMS), receipt deadlines (``receipt_deadlines``:
expire a sent message whose receipt never came) and bots' questions
(``dialogue_deadlines``: time out a dialogue nobody answered). No deadline lives only in
this process. Each poll reads the due ones from its projection, which the events alone
fill, so a restart (or another process) finds every deadline still owed and hands it on.
The command goes onto the inbound topic, as a channel's receipts do, so the core worker
takes it in order with the conversation's other records, embedded or distributed alike.

A deadline stays in the projection until the core's answer (``RevocationRequested``,
``ReceiptOverdue``) reaches it, so
a poll sees deadlines it already handed on. The core ignores a deadline it has already
enforced, and that is what makes a repeat harmless; the memory of what was handed on, and
when, only keeps the inbound topic from being flooded while the core and the read models
catch up. After a restart it is empty and everything due is handed on again. The core
decides by its own clock: a deadline handed on a little early (clocks apart between
processes) changes nothing there, stays in the projection, and is handed on again later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from chainon.adapters.bus.port import Bus, Outgoing
from chainon.domain import commands as cmd
from chainon.polling import follow
from chainon.projections.deadline_queries import DueDeadline
from chainon.topic_records import dump
from chainon.topics import Topics

log = structlog.get_logger(__name__)

# Long enough for the core to decide and the read models to catch up, so a deadline is
# handed on about once; short enough that a lost record is retried soon.
RESUBMIT_AFTER = 5.0
# Deadlines handed on at most per poll. The longest overdue come first and stay first until
# the core has them, so a backlog (after an outage) reaches the core at the pace it takes it.
BATCH = 500

Due = Callable[[datetime, int], Sequence[DueDeadline]]  # blocking: a read-model query
Call = Callable[..., Awaitable[Any]]
Enforce = Callable[[DueDeadline], cmd.Command]


def enforce_fallback(deadline: DueDeadline) -> cmd.Command:
    return cmd.EnforceFallbackDeadline(
        conversation_id=deadline.conversation_id, message_id=deadline.message_id
    )


def enforce_receipt(deadline: DueDeadline) -> cmd.Command:
    return cmd.EnforceReceiptDeadline(
        conversation_id=deadline.conversation_id, message_id=deadline.message_id
    )


def expire_dialogue(deadline: DueDeadline) -> cmd.Command:
    return cmd.ExpireDialogue(conversation_id=deadline.conversation_id)


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeadlineScheduler:
    # What a poll that handed something on logs (a subclass hands on other deadlines).
    log_event = "deadlines.due"

    def __init__(
        self,
        due: Due,
        call: Call,
        bus: Bus,
        topics: Topics,
        *,
        interval: float,
        enforce: Enforce = enforce_fallback,
        name: str = "fallback",
        resubmit_after: float = RESUBMIT_AFTER,
        batch: int = BATCH,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.due = due
        self.call = call  # runs the blocking query off the event loop
        self.bus = bus
        self.topics = topics
        self.interval = interval
        self.enforce = enforce
        self.name = name
        self.resubmit_after = resubmit_after
        self.batch = batch
        self.clock = clock
        self.monotonic = monotonic
        self.submitted: dict[UUID, float] = {}  # message id → when it was last handed on

    async def step(self, now: datetime | None = None) -> int:
        """Hands on the due deadlines not handed on lately; returns how many."""
        found = await self.call(self.due, now or self.clock(), self.batch)
        moment = self.monotonic()
        # Forget what is no longer due: the core has it (or its row is gone); this keeps
        # the memory as small as the backlog.
        still = {d.message_id for d in found}
        self.submitted = {m: at for m, at in self.submitted.items() if m in still}
        fresh = [d for d in found if self._may_hand_on(d.message_id, moment)]
        if not fresh:
            return 0
        await self.bus.publish([self._record(d) for d in fresh])
        for d in fresh:  # only once the bus has them: a failed publish is retried next poll
            self.submitted[d.message_id] = moment
        log.info(self.log_event, kind=self.name, handed_on=len(fresh), due=len(found))
        return len(fresh)

    def _may_hand_on(self, message_id: UUID, moment: float) -> bool:
        last = self.submitted.get(message_id)
        return last is None or moment - last >= self.resubmit_after

    async def run(self, stopping: asyncio.Event) -> None:
        # A steady pace rather than follow's speed-up: polling again at once would only find
        # the deadlines just handed on, still in flight.
        await follow(
            self.step,
            stopping,
            name=f"{self.name}-deadlines",
            fastest=self.interval,
            slowest=self.interval,
        )

    def _record(self, deadline: DueDeadline) -> Outgoing:
        # Keyed by conversation, like the revocation's answer, so they stay in order.
        command = self.enforce(deadline)
        return Outgoing(self.topics.inbound, str(deadline.conversation_id), dump(command))
