"""The sandbox provider: a channel that delivers nowhere, for the embedded default.

It behaves like a real provider where it matters to the core: it gives each message a
provider id, sends delivery receipts back after a delay, can be told to fail or to stay
silent (per recipient, or for everything), and lets a person or a test play the consumer
by injecting inbound messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

from adapters.channels.port import Accepted, ChannelSink, OutboundMessage
from domain.channels import Channel
from domain.commands import ReceiveMessage, RecordReceipt
from domain.message_status import MessageStatus

PROVIDER = "sandbox"


class SandboxOutcome(StrEnum):
    DELIVER = "deliver"
    FAIL = "fail"
    SILENT = "silent"  # accepted, then no receipt ever


@dataclass
class SandboxProvider:
    receipt_delay: float = 1.0
    default_outcome: SandboxOutcome = SandboxOutcome.DELIVER
    outcomes: dict[str, SandboxOutcome] = field(default_factory=dict)  # by recipient
    name: str = PROVIDER
    sent: dict[str, OutboundMessage] = field(default_factory=dict)  # by provider id
    _sink: ChannelSink | None = None
    _timers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset(Channel)

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)

    def provider_message_id(self, message: OutboundMessage) -> str:
        # Derived from our id, as RBM's messageId is: a resend is the same message.
        return f"sbx-{uuid5(NAMESPACE_URL, str(message.message_id)).hex[:20]}"

    async def send(self, message: OutboundMessage) -> Accepted:
        provider_id = self.provider_message_id(message)
        if provider_id not in self.sent:
            self.sent[provider_id] = message
            outcome = self.outcomes.get(message.recipient, self.default_outcome)
            if outcome is not SandboxOutcome.SILENT:
                self._later(self._receipt(provider_id, outcome))
        return Accepted(provider=self.name, provider_message_id=provider_id)

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
    ) -> ReceiveMessage:
        """Plays the consumer: the message reaches the core as a real provider's would."""
        message = ReceiveMessage(
            provider=self.name,
            provider_message_id=provider_message_id or self.new_inbound_id(),
            channel=channel,
            sender=sender,
            recipient=recipient,
            body=body,
        )
        await self._require_sink().inbound(message)
        return message

    async def _receipt(self, provider_id: str, outcome: SandboxOutcome) -> None:
        await asyncio.sleep(self.receipt_delay)
        failed = outcome is SandboxOutcome.FAIL
        await self._require_sink().receipt(
            RecordReceipt(
                provider=self.name,
                provider_message_id=provider_id,
                status=MessageStatus.FAILED if failed else MessageStatus.DELIVERED,
                reason="sandbox: told to fail" if failed else "",
            )
        )

    def _later(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def _require_sink(self) -> ChannelSink:
        if self._sink is None:
            raise RuntimeError("the sandbox provider has not been started")
        return self._sink
