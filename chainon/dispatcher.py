"""Hands queued messages to the channel provider, in the order they were queued.

It follows the event store's notification log (the store is the outbox), so a message is
dispatched because ``MessageQueued`` was committed, never from an in-memory queue that a
crash would empty. Its position is tracked after the provider accepted and the core
recorded ``MessageSent``; after a crash the last message may be handed over again, which
providers dedupe on our message id (RBM's ``messageId``, the sandbox's derived id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from eventsourcing.persistence import Tracking, TrackingRecorder

from adapters.channels.port import (
    ChannelProvider,
    OutboundMessage,
    PermanentFailure,
    TemporaryFailure,
)
from chainon.core import Core
from chainon.observability import MESSAGES
from domain import commands as cmd
from domain.conversation import Conversation

NAME = "dispatcher"
log = structlog.get_logger(__name__)

Call = Callable[..., Awaitable[Any]]


class Dispatcher:
    def __init__(
        self,
        core: Core,
        provider: ChannelProvider,
        tracking: TrackingRecorder,
        call: Call,
        *,
        poll_interval: float = 0.2,
        max_backoff: float = 30.0,
    ) -> None:
        self.core = core
        self.provider = provider
        self.tracking = tracking
        self.call = call  # runs blocking store calls off the event loop
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.dispatched = 0

    async def run(self, stopping: asyncio.Event) -> None:
        idle = self.poll_interval
        while not stopping.is_set():
            handled = await self.run_once()
            if handled:
                idle = self.poll_interval
                continue
            try:
                await asyncio.wait_for(stopping.wait(), timeout=idle)
            except TimeoutError:
                idle = min(idle * 1.5, 2.0)

    async def run_once(self) -> int:
        position = await self.call(self.tracking.max_tracking_id, NAME) or 0
        notifications = await self.call(
            self.core.recorder.select_notifications,
            start=position + 1,
            limit=100,
            topics=[Conversation.MessageQueued.TOPIC],
        )
        for notification in notifications:
            queued = self.core.mapper.to_domain_event(notification)
            assert isinstance(queued, Conversation.MessageQueued)
            await self._dispatch(queued)
            await self.call(self.tracking.insert_tracking, Tracking(NAME, notification.id))
        return len(notifications)

    async def _dispatch(self, queued: Conversation.MessageQueued) -> None:
        conversation: Conversation = await self.call(
            self.core.get, Conversation, queued.originator_id
        )
        message = OutboundMessage(
            message_id=queued.message_id,
            conversation_id=conversation.id,
            brand_id=conversation.brand_id,
            channel=queued.channel,
            sender=queued.sender,
            recipient=queued.recipient,
            body=queued.body,
            encoding=queued.encoding,
            segments=queued.segments,
        )
        backoff = 0.5
        while True:
            try:
                accepted = await self.provider.send(message)
            except PermanentFailure as failure:
                await self._record_failure(message, failure.reason)
                MESSAGES.labels(message.channel.value, "outbound", "failed").inc()
                return
            except TemporaryFailure as failure:
                log.warning(
                    "dispatch.retry", message_id=str(message.message_id), reason=failure.reason
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            break
        await self.call(
            self.core.handle,
            cmd.RecordSent(
                conversation_id=message.conversation_id,
                message_id=message.message_id,
                provider=accepted.provider,
                provider_message_id=accepted.provider_message_id,
            ),
        )
        self.dispatched += 1
        MESSAGES.labels(message.channel.value, "outbound", "sent").inc()
        log.info(
            "message.sent",
            request_id=queued.request_id,
            message_id=str(message.message_id),
            channel=message.channel.value,
            provider_message_id=accepted.provider_message_id,
        )

    async def _record_failure(self, message: OutboundMessage, reason: str) -> None:
        failure = cmd.RecordSendFailure(
            conversation_id=message.conversation_id, message_id=message.message_id, reason=reason
        )
        await self.call(self.core.handle, failure)
        log.warning("message.failed", message_id=str(message.message_id), reason=reason)
