"""RCS for the core over Google's RCS Business Messaging (RBM): the channel provider, and
the webhook that brings consumers' messages and DELIVERED receipts in.

A brand's RCS address is its RBM agent id, so a message goes out from the agent named by
its sender (RBM takes ``agentId`` on every call), and our message id is RBM's
``messageId``: the id a retry reuses, the one a revocation names and the one RBM's
DELIVERED event echoes, which is how the receipt finds its message. The REST calls are in
``client``, the webhook's wire format in ``webhook``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import httpx
from pydantic import ValidationError

from chainon.adapters.channels.port import (
    Accepted,
    CapabilityAnswer,
    ChannelSink,
    OutboundMessage,
    PermanentFailure,
    Revocation,
    RevokeMessage,
)
from chainon.adapters.channels.rcs.client import (
    AlreadyDelivered,
    InvalidPhone,
    RbmClient,
    RbmSettings,
)
from chainon.adapters.channels.rcs.revocations import RevocationLedger
from chainon.adapters.channels.rcs.webhook import (
    DELIVERED,
    READ,
    MalformedWebhook,
    RbmUserEvent,
    RbmUserMessage,
    WebhookRefused,
    parse_webhook,
    registration_answer,
    verify_signature,
)
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import RichContent

PROVIDER = "rcs"
MAX_REASON = 500  # what a recorded failure or revocation keeps of RBM's answer


@dataclass
class RcsProvider:
    """The RCS channel: capability checks, sends (rich content when the message has it)
    and revocations, for every agent the service account may act for."""

    settings: RbmSettings
    http: httpx.AsyncClient | None = None
    name: str = PROVIDER
    revocations: RevocationLedger = field(default_factory=RevocationLedger)
    client: RbmClient = field(init=False)
    _sink: ChannelSink | None = None

    def __post_init__(self) -> None:
        self.client = RbmClient(self.settings, self.http)

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset({Channel.RCS})

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        await self.client.aclose()
        self.revocations.close()

    async def capability(self, message: OutboundMessage) -> CapabilityAnswer:
        """Whether the recipient's handset takes RCS from this agent (RBM's 404: it does
        not, which sends the message to its fallback rather than failing it)."""
        try:
            answer = await self.client.capability(message.recipient, agent_id=message.sender)
        except InvalidPhone as exc:
            raise PermanentFailure(f"invalid_number: {exc}") from exc
        return CapabilityAnswer(capable=answer.reachable, features=sorted(answer.features))

    async def send(self, message: OutboundMessage) -> Accepted:
        """Sends the rich content when the message has some, else its body as text, under
        our message id (a redelivered record is ignored by RBM, never sent twice)."""
        if message.channel is not Channel.RCS:
            raise PermanentFailure(f"rcs: cannot carry a {message.channel.value} message")
        try:
            content = (
                RichContent.model_validate(message.rich)
                if message.rich is not None
                else RichContent(text=message.body)
            )
            await self.client.send(
                message.recipient, message.message_id, content, agent_id=message.sender
            )
        except InvalidPhone as exc:
            raise PermanentFailure(f"invalid_number: {exc}") from exc
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "rich"
            raise PermanentFailure(f"rcs: {where}: {error['msg']}"[:MAX_REASON]) from exc
        return Accepted(provider=self.name, provider_message_id=str(message.message_id))

    async def revoke(self, request: RevokeMessage) -> Revocation:
        """Takes an undelivered message back. RBM's 404 means it was delivered; a refusal
        (another 4xx) is "failed", so no fallback goes; throttling, server errors and an
        unreachable RBM raise ``TemporaryFailure`` for the dispatcher to try again."""
        if self.revocations.revoked(request.message_id):
            return Revocation(result="revoked")  # asked again after our own 200: see the ledger
        try:
            answer = await self.client.revoke(
                request.recipient, request.message_id, agent_id=request.sender
            )
        except InvalidPhone as exc:
            return Revocation(result="failed", reason=f"invalid_number: {exc}"[:MAX_REASON])
        except PermanentFailure as refused:
            return Revocation(result="failed", reason=refused.reason[:MAX_REASON])
        if isinstance(answer, AlreadyDelivered):
            return Revocation(result="already_delivered")
        self.revocations.record(request.message_id)
        return Revocation(result="revoked")

    async def handle_webhook(self, body: bytes, signature: str | None) -> WebhookHandled:
        """The webhook, for a process that runs the provider (see ``RbmWebhook``)."""
        if self._sink is None:
            raise RuntimeError("the RCS provider has not been started")
        webhook = RbmWebhook(
            self.settings.client_token, self._sink, self.name, self.settings.agent_id
        )
        return await webhook.handle(body, signature)


@dataclass
class WebhookHandled:
    """What the HTTP layer answers: the registration secret as the body, or an empty 200."""

    secret: str | None = None
    forwarded: ReceiveMessage | RecordReceipt | None = None


@dataclass
class RbmWebhook:
    """RBM's notifications, turned into the core's records.

    It needs only the client token and a sink, not the service account: the HTTP process
    that receives webhooks need not be the one that sends. ``handle`` returns once the
    record is on the sink, so that RBM is answered 200 only when nothing can be lost (RBM
    redelivers anything else, for days); a redelivery is harmless, since the core dedupes
    inbound messages on RBM's id and a receipt is recorded once."""

    client_token: str
    sink: ChannelSink
    provider: str = PROVIDER
    # The brand address for a notification that names no agent (RBM names it in practice).
    default_agent_id: str = ""

    async def handle(
        self, body: bytes, signature: str | None, *, request_id: str | None = None
    ) -> WebhookHandled:
        """Answers RBM's registration check, or checks the signature of a notification and
        hands what the core cares about to the sink. Raises ``WebhookRefused`` for a wrong
        client token or signature (nothing is recorded), ``MalformedWebhook`` for a body
        RBM cannot have sent."""
        secret = registration_answer(body, self.client_token)
        if secret is not None:
            return WebhookHandled(secret=secret)
        if not verify_signature(body, signature, self.client_token):
            raise WebhookRefused("X-Goog-Signature: missing or not RBM's")
        notification = parse_webhook(body)
        command: ReceiveMessage | RecordReceipt | None = None
        if isinstance(notification, RbmUserMessage):
            command = self._received(notification, request_id)
            await self.sink.inbound(command)
        elif isinstance(notification, RbmUserEvent) and notification.event_type in (
            DELIVERED,
            READ,
        ):
            assert notification.message_id is not None  # the model requires it for both
            ours, alternatives = _our_message_id(notification.message_id)
            command = RecordReceipt(
                provider=self.provider,
                provider_message_id=ours,
                alternative_ids=alternatives,
                status=MessageStatus.DELIVERED,  # a message read was delivered
                read=notification.event_type == READ,
                request_id=request_id,
            )
            await self.sink.receipt(command)
        # IS_TYPING, RBM's own events and agent launches: acknowledged, not recorded.
        return WebhookHandled(forwarded=command)

    def _received(self, message: RbmUserMessage, request_id: str | None) -> ReceiveMessage:
        # A tapped suggestion's text is what the consumer saw; its postback is what the
        # brand's flow keys on, carried beside it.
        tapped = message.suggestion_response
        agent = message.agent_id or self.default_agent_id
        if not agent:
            raise MalformedWebhook("message.data.agentId", "missing, and no agent id is set")
        return ReceiveMessage(
            provider=self.provider,
            provider_message_id=message.message_id,
            channel=Channel.RCS,
            sender=message.sender_phone_number,
            recipient=agent,
            body=_inbound_text(message),
            postback_data=tapped.postback_data if tapped is not None else None,
            request_id=request_id,
        )


def _our_message_id(echoed: str) -> tuple[str, list[str]]:
    """The id RBM echoes in a DELIVERED event, spelt as ``send`` recorded it (a UUID's
    canonical text), with RBM's own spelling kept as an alternative when it differs."""
    try:
        canonical = str(UUID(echoed))
    except ValueError:
        return echoed, []
    return canonical, [] if canonical == echoed else [echoed]


def _inbound_text(message: RbmUserMessage) -> str:
    if message.text is not None:
        return message.text
    if message.suggestion_response is not None:
        return message.suggestion_response.text or message.suggestion_response.postback_data
    if message.location is not None:
        return f"geo:{message.location.latitude},{message.location.longitude}"
    assert message.user_file is not None
    return message.user_file.payload.file_uri
