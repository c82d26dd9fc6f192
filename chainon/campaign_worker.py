"""The campaign worker: sends each running campaign's audience, a batch at a time.

Distributed, it runs with the views role (in the views worker), because that role holds
the read-model database where the audience, the registry and the CRM a filter is resolved
from live, and already runs the durable schedulers. Embedded, it runs with the core, in
``chainon serve``'s own process, which reads the same SQLite file: the core stays the
event store's one writer when the views run in a child. It writes through the core's
group commit like the API does: a batch's sends and the campaign's new cursor
(``RecordCampaignBatch``) are one ``handle_many`` call, so they commit in one
transaction. If the process dies before that commit, nothing of the batch is recorded and
it is decided again from the same cursor; if one of the batch's commands failed and the
unit fell back to one transaction per command, the sends that committed are found again
by their derived ids (``ids.campaign_message_id``) and not sent twice. Nobody twice,
nobody skipped.

Pace: ``rate_per_second`` is a cap per sender number, shared by every campaign that sends
from that number in this process: a batch waits until the number's budget allows it.
Pause, cancel and a schedule are read from the campaign before every batch, so at most
the batch in hand goes after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from chainon.campaign_audience import AudienceStore, from_crm
from chainon.campaign_templates import Personalisation
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.brand import Brand
from chainon.domain.campaign import AudienceKind, Campaign, CampaignState
from chainon.domain.consent import Purpose
from chainon.domain.errors import InvalidInput
from chainon.projections.read_model_store import ReadModelStore

log = structlog.get_logger()
Call = Callable[..., Awaitable[Any]]
BATCH = 500  # as the runtime's batcher groups commands under load


@dataclass
class Budget:
    """A sender number's next free moment, on the pace's clock."""

    free_at: float = 0.0


class SenderPace:
    """The throughput cap per sender number: a batch of ``count`` messages at ``rate``
    a second takes ``count / rate`` seconds of its number's budget, whichever campaign
    sends it, and waits until the number is free. The clock and the sleep are given, so
    that a test can run an hour of pacing in no time."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.budgets: dict[str, Budget] = {}

    async def wait(self, sender: str, count: int, rate: int) -> None:
        budget = self.budgets.setdefault(sender, Budget())
        now = self.clock()
        if budget.free_at > now:
            await self.sleep(budget.free_at - now)
        budget.free_at = max(now, budget.free_at) + count / rate


class CampaignWorker:
    def __init__(
        self,
        core: Core,
        read_models: Callable[[], ReadModelStore],
        call: Call,
        *,
        interval: float = 0.5,
        batch: int = BATCH,
        pace: SenderPace | None = None,
    ) -> None:
        self.core = core
        self.read_models = read_models  # opened on the pool's threads, where it is used
        self.call = call
        self.interval = interval
        self.batch = batch
        self.pace = pace or SenderPace()
        self.name = "campaign"

    def _audience(self) -> AudienceStore:
        return AudienceStore.of(self.read_models())

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            busy = False
            try:
                for campaign_id in await self.call(lambda: self._audience().active()):
                    if stopping.is_set():
                        break
                    busy = await self.step(campaign_id) or busy
            except Exception as exc:  # the store is away: try again at the next poll
                log.warning("campaign.poll_failed", error=repr(exc))
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.interval)

    async def step(self, campaign_id: UUID) -> bool:
        """One move of one campaign; True when it sent a batch (more may follow at once)."""
        campaign = await self.call(self.core.find, Campaign, campaign_id)
        if campaign is None:
            return False
        if campaign.state in (CampaignState.CANCELLED, CampaignState.FINISHED):
            await self.call(lambda: self._audience().set_active(campaign_id, False))
            return False
        if campaign.due(self.core.clock()):
            await self._start(campaign)
            return True
        if campaign.state is not CampaignState.RUNNING:
            return False
        return await self._send_batch(campaign)

    async def _start(self, campaign: Campaign) -> None:
        if campaign.audience_kind is AudienceKind.FILTER:
            assert campaign.audience_filter is not None
            wanted, channel = campaign.audience_filter, campaign.channel
            found = await self.call(
                lambda: from_crm(self.read_models(), campaign.brand_id, wanted, channel)
            )
            recipients = await self.call(lambda: self._audience().fill(campaign.id, found))
        else:
            recipients = await self.call(lambda: self._audience().size(campaign.id))
        await self.call(
            self.core.handle, cmd.StartCampaign(campaign_id=campaign.id, recipients=recipients)
        )
        log.info("campaign.started", campaign_id=str(campaign.id), recipients=recipients)

    async def _send_batch(self, campaign: Campaign) -> bool:
        start = campaign.cursor
        size = max(1, min(self.batch, campaign.rate_per_second))
        recipients = await self.call(lambda: self._audience().recipients(campaign.id, start, size))
        if not recipients:  # the audience ended (a recount): the cursor closes it
            recipients_end = max(start, campaign.recipients)
            if recipients_end > start:
                record = cmd.RecordCampaignBatch(
                    campaign_id=campaign.id, start=start, upto=recipients_end
                )
                await self.call(self.core.handle, record)
            return False
        brand = await self.call(self.core.find, Brand, campaign.brand_id)
        sender = brand.sender_for(campaign.channel) if brand is not None else None
        await self.pace.wait(
            sender or str(campaign.brand_id), len(recipients), campaign.rate_per_second
        )
        text = Personalisation(campaign.template, campaign.defaults)
        batch: list[tuple[cmd.Command, None]] = []
        refused = 0
        for recipient in recipients:
            try:
                body = text.render(recipient.attributes)
                if not body:
                    raise InvalidInput("the personalised text is empty", field="template")
                send = cmd.SendMessage(
                    brand_id=campaign.brand_id,
                    to=recipient.address,
                    body=body,
                    channel=campaign.channel,
                    purpose=Purpose.MARKETING,
                    not_after=campaign.not_after,
                    message_id=ids.campaign_message_id(campaign.id, recipient.address),
                    campaign_id=campaign.id,
                )
            except (InvalidInput, ValueError) as exc:
                refused += 1
                log.info("campaign.recipient_refused", campaign_id=str(campaign.id), error=str(exc))
                continue
            batch.append((send, None))
        upto = recipients[-1].position + 1
        record = cmd.RecordCampaignBatch(
            campaign_id=campaign.id, start=start, upto=upto, refused=refused
        )
        results = await self.call(self.core.handle_many, [*batch, (record, None)])
        failed = [r for r in results[:-1] if isinstance(r, Exception)]
        if failed:
            log.info("campaign.sends_refused", campaign_id=str(campaign.id), count=len(failed))
        if isinstance(results[-1], Exception):
            raise results[-1]
        return True
