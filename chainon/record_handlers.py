"""What the core and dispatch workers do with each record they consume.

The core worker turns inbound records and a brand's commands into core commands; the
dispatch worker hands outbound messages to the channel provider and publishes what became
of them back on the inbound topic, as the provider's receipts are.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

import structlog

from chainon.adapters.bus.port import Bus, Outgoing, Record
from chainon.adapters.channels.port import (
    CapabilityAnswer,
    ChannelProvider,
    ChannelRefusal,
    NotCapable,
    OutboundMessage,
    PermanentFailure,
    Revocation,
    RevokeMessage,
    RevokingProvider,
)
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.brand import DEFAULT_PROVIDER, Brand
from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput
from chainon.messagebus import IdempotencyClaim
from chainon.observability import BUS_DLQ, MESSAGES
from chainon.topic_records import (
    COMMANDS,
    INBOUND,
    OUTBOUND,
    DeadLetter,
    PoisonRecord,
    conversation_key,
    dump,
    read,
)
from chainon.topics import Topics

log = structlog.get_logger(__name__)
Call = Callable[..., Awaitable[Any]]
Handle = Callable[[cmd.Command, IdempotencyClaim | None], Awaitable[cmd.Outcome]]


class CoreHandler:
    """Applies ``chainon.inbound.v1`` and ``chainon.commands.v1`` records to the core."""

    def __init__(self, handle: Handle, topics: Topics) -> None:
        self.handle = handle  # the process's command batcher: records commit in groups
        self.topics = topics

    async def __call__(self, record: Record) -> None:
        claim = None
        if record.topic == self.topics.commands:
            command = read(COMMANDS, record.value)
            claim = self._claim(command)
        elif record.topic == self.topics.inbound:
            command = read(INBOUND, record.value)
        else:
            raise PoisonRecord(f"the core does not consume {record.topic}")
        outcome = await self.handle(command, claim)
        if isinstance(command, cmd.ReceiveMessage) and outcome.changed and not outcome.refused:
            MESSAGES.labels(command.channel.value, "inbound", "received").inc()
        expired = isinstance(command, cmd.EnforceReceiptDeadline) and outcome.changed
        if expired and outcome.channel and outcome.status:  # no receipt came by the deadline
            MESSAGES.labels(outcome.channel.value, "outbound", outcome.status.value).inc()
        if isinstance(command, cmd.RecordReceipt) and outcome.channel:
            if outcome.status is not None:  # counted once per message, not per segment
                MESSAGES.labels(outcome.channel.value, "outbound", outcome.status.value).inc()
            if outcome.read:
                MESSAGES.labels(outcome.channel.value, "outbound", "read").inc()
        # Receipts kept because they came before their send count once it is recorded.
        final = outcome.status is not None and outcome.status.is_final
        if isinstance(command, cmd.RecordSent) and final and outcome.channel and outcome.status:
            MESSAGES.labels(outcome.channel.value, "outbound", outcome.status.value).inc()

    @staticmethod
    def _claim(command: cmd.Command) -> IdempotencyClaim:
        """A brand's command must carry an id: its redelivery then changes nothing."""
        if command.command_id is None:
            raise PoisonRecord("command_id: required on the commands topic")
        brand_id = getattr(command, "brand_id", None)
        if brand_id is None:
            raise PoisonRecord("brand_id: required on the commands topic")
        canonical = command.model_dump_json(exclude={"request_id"})
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        return IdempotencyClaim(brand_id, f"command:{command.command_id}", fingerprint)


class ChannelPublisher:
    """The channel sink of a provider: what it hears goes onto the inbound topic."""

    def __init__(self, bus: Bus, topics: Topics) -> None:
        self.bus = bus
        self.topics = topics

    async def inbound(self, message: cmd.ReceiveMessage) -> None:
        key = conversation_key(message.sender, message.recipient)
        await self.bus.publish([Outgoing(self.topics.inbound, key, dump(message))])

    async def receipt(self, receipt: cmd.RecordReceipt) -> None:
        # Keyed like its RecordSent, so the two stay in order on one partition.
        key = receipt.provider_message_id
        await self.bus.publish([Outgoing(self.topics.inbound, key, dump(receipt))])

    async def refused(self, refusal: ChannelRefusal) -> None:
        """Onto the inbound topic's dead letters, beside the records the core refused: one
        place to look for what came in and was not taken.

        It never was a record (it came off a channel, not a topic), so ``partition`` and
        ``offset`` are -1 and ``topic`` names the provider that heard it; the key is the
        provider too, which keeps one provider's refusals in order.
        """
        letter = DeadLetter(
            reason=refusal.reason,
            error=refusal.detail,
            topic=refusal.provider,
            partition=-1,
            offset=-1,
            key=refusal.provider,
            value=refusal.raw,
            attempts=1,
            failed_at=refusal.at,
        )
        headers = (("reason", refusal.reason.encode()),)
        dlq = Topics.dlq(self.topics.inbound)
        await self.bus.publish([Outgoing(dlq, refusal.provider, dump(letter), headers)])
        BUS_DLQ.labels(refusal.provider).inc()


class DispatchHandler:
    """Hands ``chainon.outbound.v1`` records to the channel provider of their link.

    The dispatch worker (``chainon.dispatching``) reads each record, asks ``route`` which
    link it goes through, then has that link's lane deliver it. A redelivered record is
    handed over again; providers dedupe on our message id, and the core ignores a second
    RecordSent for a message already sent.
    """

    def __init__(
        self,
        providers: Mapping[str, ChannelProvider],
        route: Callable[[OutboundMessage | RevokeMessage], Awaitable[str]],
        bus: Bus,
        topics: Topics,
        receipt_deadlines: Mapping[Channel, int] | None = None,
    ) -> None:
        self.providers = providers
        self.route = route  # which provider link the brand set for this sender
        self.bus = bus
        self.topics = topics
        # Seconds a sent message waits for its receipt, per channel, unless its provider
        # says (an SMPP link's validity period); a channel without receipts has none.
        self.receipt_deadlines = dict(receipt_deadlines or {})

    @staticmethod
    def message_of(record: Record) -> OutboundMessage | RevokeMessage:
        message: OutboundMessage | RevokeMessage = read(OUTBOUND, record.value)
        return message

    def provider(self, name: str) -> ChannelProvider:
        provider = self.providers.get(name)
        if provider is None:
            # Kept in the dead-letter topic, to be replayed once the link is configured.
            raise InvalidInput(
                f"no provider link {name!r} runs in this dispatch worker", field="provider"
            )
        return provider

    async def deliver(
        self, provider: ChannelProvider, message: OutboundMessage | RevokeMessage
    ) -> None:
        """Sends (or revokes), then puts what became of it on the inbound topic."""
        if isinstance(message, RevokeMessage):
            results = [await self._revoke(provider, message)]
        else:
            results = await self._send(provider, message)
        await self.bus.publish(
            [Outgoing(self.topics.inbound, key, dump(result)) for key, result in results]
        )
        log.info(
            "message.dispatched",
            request_id=message.request_id,
            message_id=str(message.message_id),
            channel=message.channel.value,
            result=",".join(type(result).__name__ for _, result in results),
        )

    def given_up(self, message: OutboundMessage | RevokeMessage, reason: str) -> Outgoing:
        """What the core records of a message whose record was dead-lettered: a send
        failed with that reason (never left ``queued``), a revocation failed (no
        fallback: the consumer may have the message)."""
        reason = reason[:500]
        result: cmd.Command
        if isinstance(message, RevokeMessage):
            result = cmd.RecordRevocation(
                conversation_id=message.conversation_id,
                message_id=message.message_id,
                result="failed",
                reason=reason,
                request_id=message.request_id,
            )
            return Outgoing(self.topics.inbound, str(message.conversation_id), dump(result))
        result = cmd.RecordSendFailure(
            conversation_id=message.conversation_id,
            message_id=message.message_id,
            reason=reason,
            request_id=message.request_id,
        )
        MESSAGES.labels(message.channel.value, "outbound", "failed").inc()
        return Outgoing(self.topics.inbound, str(message.message_id), dump(result))

    async def _send(
        self, provider: ChannelProvider, message: OutboundMessage
    ) -> list[tuple[str, cmd.Command]]:
        results: list[tuple[str, cmd.Command]] = []
        try:
            if message.channel is Channel.RCS and message.check_capability:
                answer = await self._capability(provider, message)
                if answer is not None:
                    results.append(
                        (
                            str(message.conversation_id),
                            cmd.RecordCapability(
                                conversation_id=message.conversation_id,
                                capable=answer.capable,
                                features=answer.features,
                                request_id=message.request_id,
                            ),
                        )
                    )
                    if not answer.capable:
                        raise NotCapable()
            accepted = await provider.send(message)
        except PermanentFailure as failure:
            failed = cmd.RecordSendFailure(
                conversation_id=message.conversation_id,
                message_id=message.message_id,
                reason=failure.reason,
                request_id=message.request_id,
            )
            MESSAGES.labels(message.channel.value, "outbound", "failed").inc()
            return [*results, (str(message.message_id), failed)]
        within = accepted.receipt_within_seconds
        sent = cmd.RecordSent(
            conversation_id=message.conversation_id,
            message_id=message.message_id,
            provider=accepted.provider,
            provider_message_id=accepted.provider_message_id,
            segment_ids=accepted.segment_ids,
            request_id=message.request_id,
            receipt_within_seconds=within or self.receipt_deadlines.get(message.channel),
        )
        MESSAGES.labels(message.channel.value, "outbound", "sent").inc()
        return [*results, (accepted.provider_message_id, sent)]

    @staticmethod
    async def _capability(
        provider: ChannelProvider, message: OutboundMessage
    ) -> CapabilityAnswer | None:
        if not isinstance(provider, RevokingProvider):
            return None
        return await provider.capability(message)

    @staticmethod
    async def _revoke(provider: ChannelProvider, request: RevokeMessage) -> tuple[str, cmd.Command]:
        if isinstance(provider, RevokingProvider):
            answer = await provider.revoke(request)
        else:  # a provider without revocation cannot promise the message will not arrive
            answer = Revocation(result="failed", reason=f"{provider.name} cannot revoke")
        result = cmd.RecordRevocation(
            conversation_id=request.conversation_id,
            message_id=request.message_id,
            result=answer.result,
            reason=answer.reason,
            request_id=request.request_id,
        )
        return str(request.conversation_id), result


class SenderRoutes:
    """The provider link of each brand sender, read from the brand (cached briefly: a
    route changes rarely, and a dispatch worker must not load the brand per message)."""

    def __init__(
        self,
        core: Core,
        call: Call,
        defaults: Mapping[Channel, str] | None = None,
        ttl: float = 10.0,
    ) -> None:
        self.core = core
        self.call = call
        self.defaults = defaults or {}  # the deployment's link per channel, when unrouted
        self.ttl = ttl
        self._brands: dict[UUID, tuple[float, Brand]] = {}

    async def __call__(self, message: OutboundMessage | RevokeMessage) -> str:
        now = time.monotonic()
        cached = self._brands.get(message.brand_id)
        if cached is None or now - cached[0] > self.ttl:
            brand: Brand = await self.call(self.core.get, Brand, message.brand_id)
            cached = self._brands[message.brand_id] = (now, brand)
        routed = cached[1].routes.get((message.channel, message.sender))
        return routed or self.defaults.get(message.channel, DEFAULT_PROVIDER)
