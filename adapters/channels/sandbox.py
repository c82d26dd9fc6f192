"""The sandbox provider: a channel that delivers nowhere, for the embedded default.

It behaves like a real provider where it matters to the core: it gives each message a
provider id, sends delivery receipts back after a delay, can be told to fail or to stay
silent (per recipient and channel, or for everything), and lets a person or a test play
the consumer by injecting inbound messages.

RCS is simulated with RBM's behaviours, so that the fallback to SMS can be watched without
Google: a handset may not take RCS (the capability check says no, a send is refused as
RBM's 404 refuses it), a send may fail for good, a message may never be delivered, and an
undelivered message can be revoked, while a delivered one cannot. Everything is decided
by the settings and the order of calls, never by chance, so tests can rely on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from chainon.adapters.channels.port import (
    Accepted,
    CapabilityAnswer,
    ChannelSink,
    NotCapable,
    OutboundMessage,
    PermanentFailure,
    Revocation,
    RevokeMessage,
)
from chainon.adapters.channels.sandbox_outcomes import OutcomeKey, SharedOutcomes
from chainon.adapters.channels.sandbox_receipts import PendingReceipts
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt
from chainon.domain.message_status import MessageStatus

PROVIDER = "sandbox"
# What RBM lists for a handset that takes everything an agent can send.
RCS_FEATURES = (
    "RICHCARD_STANDALONE",
    "RICHCARD_CAROUSEL",
    "ACTION_CREATE_CALENDAR_EVENT",
    "ACTION_DIAL",
    "ACTION_OPEN_URL",
    "ACTION_SHARE_LOCATION",
    "ACTION_VIEW_LOCATION",
)


class SandboxOutcome(StrEnum):
    DELIVER = "deliver"
    FAIL = "fail"  # SMS, email: a FAILED receipt; RCS: refused at the send, as RBM does
    SILENT = "silent"  # accepted, then no receipt ever (an RCS message can then be revoked)
    NOT_CAPABLE = "not_capable"  # RCS only: the handset does not take RCS


@dataclass
class SandboxProvider:
    receipt_delay: float = 1.0
    default_outcome: SandboxOutcome = SandboxOutcome.DELIVER
    outcomes: dict[OutcomeKey, SandboxOutcome] = field(default_factory=dict)
    name: str = PROVIDER
    sent: dict[str, OutboundMessage] = field(default_factory=dict)  # by provider id
    delivered: set[str] = field(default_factory=set)  # provider ids the handset has
    revoked: set[str] = field(default_factory=set)  # provider ids taken back
    # Receipts still to come, on disk: a restart sends them (None: kept in memory only).
    pending: PendingReceipts | None = None
    # The outcomes, shared with the other processes of this Chainon (None: this one's own).
    shared: SharedOutcomes | None = None
    _sink: ChannelSink | None = None
    _timers: set[asyncio.Task[None]] = field(default_factory=set)
    _receipts: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # still to come
    _failed: set[str] = field(default_factory=set)  # provider ids a FAILED receipt named

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset(Channel)

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink
        owed = self.pending.open() if self.pending is not None else []
        for receipt in owed:  # what a previous run accepted and had not answered yet
            delay = max(0.0, receipt.due - time.time())
            outcome = SandboxOutcome(receipt.outcome)
            self._receipts[receipt.provider_message_id] = self._later(
                self._receipt(receipt.provider_message_id, outcome, delay)
            )

    async def stop(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        if self.pending is not None:
            self.pending.close()
        if self.shared is not None:
            self.shared.close()

    def set_outcome(
        self,
        recipient: str,
        outcome: SandboxOutcome,
        channel: Channel | None = None,
        *,
        brand_id: UUID | None = None,
    ) -> None:
        """What happens to messages for ``recipient``: on one channel, or on every channel
        when ``channel`` is None; a brand's messages only, or every brand's when
        ``brand_id`` is None (a brand playing with the sandbox through the API never
        changes what another brand's messages do). Not being capable concerns RCS alone."""
        if outcome is SandboxOutcome.NOT_CAPABLE:
            if channel not in (None, Channel.RCS):
                raise ValueError(f"not_capable concerns RCS only, not {channel}")
            channel = Channel.RCS
        self.outcomes[(brand_id, channel, recipient)] = outcome
        if self.shared is not None:
            self.shared.put((brand_id, channel, recipient), outcome.value)

    def outcome_for(
        self, channel: Channel, recipient: str, brand_id: UUID | None = None
    ) -> SandboxOutcome:
        """The most particular setting wins: the brand's own before every brand's, and
        within each the channel's before every channel's, so RCS can stay silent to a
        number while the SMS that replaces it is delivered."""
        if self.shared is not None and (told := self.shared.changed()) is not None:
            self.outcomes.update({key: SandboxOutcome(value) for key, value in told.items()})
        brands = (brand_id, None) if brand_id is not None else (None,)
        found = (
            self.outcomes.get((brand, on, recipient)) for brand in brands for on in (channel, None)
        )
        outcome = next((o for o in found if o is not None), self.default_outcome)
        if outcome is SandboxOutcome.NOT_CAPABLE and channel is not Channel.RCS:
            return SandboxOutcome.DELIVER  # an SMS reaches a phone that lacks RCS
        return outcome

    def sent_on(self, channel: Channel) -> list[OutboundMessage]:
        """The messages accepted on ``channel``, in the order they came (for tests and the
        demo: what a consumer's phone would have been offered)."""
        return [message for message in self.sent.values() if message.channel is channel]

    def provider_message_id(self, message: OutboundMessage) -> str:
        return self._provider_id(message.message_id)

    @staticmethod
    def _provider_id(message_id: UUID) -> str:
        # Derived from our id, as RBM's messageId is: a resend is the same message.
        return f"sbx-{uuid5(NAMESPACE_URL, str(message_id)).hex[:20]}"

    async def send(self, message: OutboundMessage) -> Accepted:
        outcome = self.outcome_for(message.channel, message.recipient, message.brand_id)
        if message.channel is Channel.RCS:
            # RBM refuses at the send (404 not an RCS user, 4xx for the rest); it never
            # sends a FAILED receipt for an RCS message.
            if outcome is SandboxOutcome.NOT_CAPABLE:
                raise NotCapable()
            if outcome is SandboxOutcome.FAIL:
                raise PermanentFailure("sandbox: told to fail")
        provider_id = self.provider_message_id(message)
        if provider_id not in self.sent:
            self.sent[provider_id] = message
            # owed since before a restart: its receipt comes already
            due = provider_id not in self.revoked and provider_id not in self._receipts
            if outcome is not SandboxOutcome.SILENT and due:
                if self.pending is not None:
                    self.pending.owe(provider_id, outcome.value, self.receipt_delay)
                self._receipts[provider_id] = self._later(
                    self._receipt(provider_id, outcome, self.receipt_delay)
                )
        return Accepted(provider=self.name, provider_message_id=provider_id)

    async def capability(self, message: OutboundMessage) -> CapabilityAnswer:
        """RBM's capability check: every number takes RCS unless told ``not_capable``."""
        rcs = self.outcome_for(Channel.RCS, message.recipient, message.brand_id)
        if rcs is SandboxOutcome.NOT_CAPABLE:
            return CapabilityAnswer(capable=False)
        return CapabilityAnswer(capable=True, features=list(RCS_FEATURES))

    async def revoke(self, request: RevokeMessage) -> Revocation:
        """Takes an undelivered RCS message back; a delivered one stays with the consumer.

        Unlike RBM, whose 404 cannot tell "delivered" from "never had it", the sandbox
        knows which messages it holds: one it never accepted is revoked too (it will not
        arrive), and a later send of it is accepted but never delivered.
        """
        if request.channel is not Channel.RCS:
            return Revocation(
                result="failed", reason=f"sandbox: {request.channel} cannot be revoked"
            )
        provider_id = request.provider_message_id or self._provider_id(request.message_id)
        if provider_id in self.delivered:
            return Revocation(result="already_delivered", reason="sandbox: delivered already")
        pending = self._receipts.pop(provider_id, None)
        if pending is not None:
            pending.cancel()
            if self.pending is not None:
                self.pending.paid(provider_id)
        self.revoked.add(provider_id)
        return Revocation(result="revoked")

    async def receipts_handed_over(self) -> list[OutboundMessage]:
        """Waits for every receipt still owed to reach the core's sink; returns the messages
        that got one (a story that stops afterwards leaves no receipt on the way)."""
        while self._receipts:
            await asyncio.gather(*list(self._receipts.values()), return_exceptions=True)
        return [m for pid, m in self.sent.items() if pid in self.delivered or pid in self._failed]

    def new_inbound_id(self) -> str:
        return f"sbx-in-{uuid4().hex[:20]}"

    async def inject_inbound(
        self,
        *,
        sender: str,
        recipient: str,
        body: str,
        channel: Channel = Channel.SMS,
        provider_message_id: str | None = None,
        brand_id: UUID | None = None,
    ) -> ReceiveMessage:
        """Plays the consumer: the message reaches the core as a real provider's would.
        With ``brand_id``, the provider id is that brand's own (see ``ReceiveMessage``)."""
        message = ReceiveMessage(
            provider=self.name,
            provider_message_id=provider_message_id or self.new_inbound_id(),
            channel=channel,
            sender=sender,
            recipient=recipient,
            body=body,
            brand_id=brand_id,
        )
        await self._require_sink().inbound(message)
        return message

    async def _receipt(self, provider_id: str, outcome: SandboxOutcome, delay: float) -> None:
        await asyncio.sleep(delay)
        self._receipts.pop(provider_id, None)
        failed = outcome is SandboxOutcome.FAIL
        if failed:
            self._failed.add(provider_id)
        else:
            # On the handset from now on, before the receipt is on its way: a revocation
            # that comes while the receipt travels is too late, as with RBM.
            self.delivered.add(provider_id)
        await self._require_sink().receipt(
            RecordReceipt(
                provider=self.name,
                provider_message_id=provider_id,
                status=MessageStatus.FAILED if failed else MessageStatus.DELIVERED,
                reason="sandbox: told to fail" if failed else "",
            )
        )
        if self.pending is not None:
            self.pending.paid(provider_id)

    def _later(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)
        return task

    def _require_sink(self) -> ChannelSink:
        if self._sink is None:
            raise RuntimeError("the sandbox provider has not been started")
        return self._sink
