"""The RBM client, the RCS provider and the webhook helpers against the fake RBM platform
(tests/rbm), over real HTTP on 127.0.0.1 with a real JWT-bearer token exchange."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chainon.adapters.channels.port import (
    Accepted,
    CapabilityAnswer,
    NotCapable,
    OutboundMessage,
    PermanentFailure,
    Revocation,
    RevokeMessage,
    RevokingProvider,
    TemporaryFailure,
)
from chainon.adapters.channels.rcs.auth import TokenRefused
from chainon.adapters.channels.rcs.client import (
    AgentEventType,
    AlreadyDelivered,
    NotRcsUser,
    RbmClient,
    Revoked,
)
from chainon.adapters.channels.rcs.provider import RcsProvider
from chainon.adapters.channels.rcs.revocations import RevocationLedger
from chainon.adapters.channels.rcs.webhook import (
    RbmUserEvent,
    RbmUserMessage,
    WebhookRefused,
    parse_webhook,
    verify_signature,
)
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage, RecordReceipt
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import (
    Card,
    CardOrientation,
    CardWidth,
    MediaHeight,
    OpenUrl,
    RichContent,
    SuggestedAction,
    SuggestedReply,
    ThumbnailAlignment,
)
from tests.rbm.fixture import (
    AGENT_ID,
    CLIENT_TOKEN,
    RbmPeer,
    Received,
    rbm_fixture,  # noqa: F401  (the ``rbm`` fixture)
    rbm_servers_fixture,  # noqa: F401
    service_account,
)

CLAIRE = "+33612345678"  # has RCS
PAUL = "+33698765432"  # has no RCS
YES = SuggestedReply(text="Oui", postback_data="slot=yes")
TRACK = SuggestedAction(
    text="Suivre le colis",
    postback_data="track",
    action=OpenUrl(url="https://colis.example/t/42"),
)


@pytest.fixture
async def client(rbm: RbmPeer) -> Any:
    await rbm.phone(CLAIRE, capable=True)
    client = RbmClient(rbm.settings())
    yield client
    await client.aclose()


def sends(state: dict[str, Any], message_id: UUID) -> list[dict[str, Any]]:
    return [
        request
        for request in state["requests"]
        if request["path"].endswith("/agentMessages")
        and request["query"].get("messageId") == str(message_id)
    ]


async def webhooks(rbm: RbmPeer, count: int) -> list[Received]:
    async def arrived() -> list[Received] | None:
        received = list(rbm.receiver.received)
        return received if len(received) >= count else None

    return await rbm.eventually(arrived)


def decoded(received: Received) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        base64.b64decode(json.loads(received.body)["message"]["data"])
    )
    return data


# Tokens: the JWT-bearer grant


async def test_the_signed_assertion_buys_a_token_the_api_accepts(
    rbm: RbmPeer, client: RbmClient
) -> None:
    capability = await client.capability(CLAIRE)
    assert capability.reachable
    assert (await rbm.state())["grants"] == 1
    await client.capability(CLAIRE)
    assert (await rbm.state())["grants"] == 1  # the token is reused while fresh


async def test_an_assertion_signed_by_another_key_is_refused(rbm: RbmPeer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = service_account(stranger, rbm.key["token_uri"])
    client = RbmClient(rbm.settings(service_account=key))
    with pytest.raises(TokenRefused, match="invalid_grant: Invalid JWT Signature"):
        await client.capability(CLAIRE)
    await client.aclose()
    assert (await rbm.state())["grants"] == 0


async def test_a_call_without_a_token_the_platform_issued_gets_401(rbm: RbmPeer) -> None:
    await rbm.phone(CLAIRE, capable=True)
    url = f"{rbm.url}/v1/phones/{CLAIRE}/capabilities"
    params = {"agentId": AGENT_ID, "requestId": str(uuid4())}
    async with httpx.AsyncClient() as http:
        forged = await http.get(url, params=params, headers={"Authorization": "Bearer forged"})
        bare = await http.get(url, params=params)
    assert forged.status_code == bare.status_code == 401
    assert forged.json()["error"]["status"] == "UNAUTHENTICATED"


async def test_a_token_the_platform_dropped_is_replaced_and_the_call_made_again(
    rbm: RbmPeer, client: RbmClient
) -> None:
    await client.capability(CLAIRE)
    await rbm.control("forget_tokens")
    assert (await client.capability(CLAIRE)).reachable
    assert (await rbm.state())["grants"] == 2


async def test_a_token_near_its_expiry_is_refreshed_before_use(rbm: RbmPeer) -> None:
    await rbm.phone(CLAIRE, capable=True)
    await rbm.control("token_lifetime", seconds=2)
    client = RbmClient(rbm.settings(token_refresh_margin=1.0))
    await client.capability(CLAIRE)
    await client.capability(CLAIRE)
    assert (await rbm.state())["grants"] == 1
    await asyncio.sleep(1.1)  # 2 s lifetime, 1 s margin: now too close to its expiry
    await client.capability(CLAIRE)
    await client.aclose()
    assert (await rbm.state())["grants"] == 2


# Capability


async def test_capability_of_an_rcs_user_and_of_a_number_without_rcs(
    rbm: RbmPeer, client: RbmClient
) -> None:
    request_id = uuid4()
    claire = await client.capability(CLAIRE, request_id)
    paul = await client.capability(PAUL)
    assert claire.reachable
    assert "RICHCARD_CAROUSEL" in claire.features
    assert not paul.reachable
    assert paul.features == frozenset()
    first = (await rbm.state())["requests"][0]
    assert first["method"] == "GET"
    assert first["path"] == f"/v1/phones/{CLAIRE}/capabilities"
    assert first["query"] == {"requestId": str(request_id), "agentId": AGENT_ID}


async def test_batch_capability_lists_the_reachable_numbers(
    rbm: RbmPeer, client: RbmClient
) -> None:
    await rbm.phone("+33611111111", capable=True)
    reachable = await client.batch_capable([CLAIRE, PAUL, "+33611111111"])
    assert reachable == {CLAIRE, "+33611111111"}
    request = (await rbm.state())["requests"][-1]
    assert request["path"] == "/v1/users:batchGet"
    assert request["json"] == {"users": [CLAIRE, PAUL, "+33611111111"], "agentId": AGENT_ID}


# Sending: the exact JSON


async def test_text_with_suggestions(rbm: RbmPeer, client: RbmClient) -> None:
    message_id = uuid4()
    content = RichContent(text="Votre colis arrive demain. Ça vous va ?", suggestions=[YES, TRACK])
    assert await client.send(CLAIRE, message_id, content) == str(message_id)
    [request] = sends(await rbm.state(), message_id)
    assert request["path"] == f"/v1/phones/{CLAIRE}/agentMessages"
    assert request["query"] == {"messageId": str(message_id), "agentId": AGENT_ID}
    assert request["json"] == {
        "contentMessage": {
            "text": "Votre colis arrive demain. Ça vous va ?",
            "suggestions": [
                {"reply": {"text": "Oui", "postbackData": "slot=yes"}},
                {
                    "action": {
                        "text": "Suivre le colis",
                        "postbackData": "track",
                        "openUrlAction": {"url": "https://colis.example/t/42"},
                    }
                },
            ],
        }
    }


async def test_a_standalone_rich_card(rbm: RbmPeer, client: RbmClient) -> None:
    message_id = uuid4()
    content = RichContent(
        card=Card(
            title="Lampe Aube",
            description="Laiton brossé, 40 cm",
            media_url="https://img.example/aube.jpg",
            media_height=MediaHeight.TALL,
            suggestions=[YES],
        ),
        card_orientation=CardOrientation.HORIZONTAL,
        thumbnail_alignment=ThumbnailAlignment.RIGHT,
    )
    await client.send(CLAIRE, message_id, content, ttl=timedelta(hours=1))
    [request] = sends(await rbm.state(), message_id)
    assert request["json"] == {
        "contentMessage": {
            "richCard": {
                "standaloneCard": {
                    "cardOrientation": "HORIZONTAL",
                    "thumbnailImageAlignment": "RIGHT",
                    "cardContent": {
                        "title": "Lampe Aube",
                        "description": "Laiton brossé, 40 cm",
                        "media": {
                            "height": "TALL",
                            "contentInfo": {"fileUrl": "https://img.example/aube.jpg"},
                        },
                        "suggestions": [{"reply": {"text": "Oui", "postbackData": "slot=yes"}}],
                    },
                }
            }
        },
        "ttl": "3600s",
    }


async def test_a_carousel(rbm: RbmPeer, client: RbmClient) -> None:
    message_id = uuid4()
    content = RichContent(
        carousel=[
            Card(
                title="Aube", media_url="https://img.example/a.jpg", media_height=MediaHeight.SHORT
            ),
            Card(title="Zénith", description="Opaline"),
        ],
        card_width=CardWidth.SMALL,
        suggestions=[TRACK],
    )
    expire = datetime(2026, 5, 4, 18, 30, tzinfo=UTC)
    await client.send(CLAIRE, message_id, content, expire_time=expire)
    [request] = sends(await rbm.state(), message_id)
    assert request["json"] == {
        "contentMessage": {
            "richCard": {
                "carouselCard": {
                    "cardWidth": "SMALL",
                    "cardContents": [
                        {
                            "title": "Aube",
                            "media": {
                                "height": "SHORT",
                                "contentInfo": {"fileUrl": "https://img.example/a.jpg"},
                            },
                        },
                        {"title": "Zénith", "description": "Opaline"},
                    ],
                }
            },
            "suggestions": [
                {
                    "action": {
                        "text": "Suivre le colis",
                        "postbackData": "track",
                        "openUrlAction": {"url": "https://colis.example/t/42"},
                    }
                }
            ],
        },
        "expireTime": "2026-05-04T18:30:00Z",
    }


async def test_a_ttl_is_sent_as_a_google_duration(rbm: RbmPeer, client: RbmClient) -> None:
    message_id = uuid4()
    ttl = timedelta(days=30, milliseconds=250)
    await client.send(CLAIRE, message_id, RichContent(text="Code : 123456"), ttl=ttl)
    [request] = sends(await rbm.state(), message_id)
    assert request["json"]["ttl"] == "2592000.25s"
    with pytest.raises(ValueError, match="ttl, expire_time"):
        await client.send(
            CLAIRE, uuid4(), RichContent(text="x"), ttl=ttl, expire_time=datetime.now(UTC)
        )


async def test_a_number_without_rcs_is_not_an_rcs_user(client: RbmClient) -> None:
    with pytest.raises(NotRcsUser) as refused:
        await client.send(PAUL, uuid4(), RichContent(text="Bonjour"))
    assert isinstance(refused.value, PermanentFailure)
    assert refused.value.reason == "not_capable"


# Failures and retries


async def test_a_503_is_retried_with_the_same_message_id_and_stored_once(
    rbm: RbmPeer, client: RbmClient
) -> None:
    await rbm.phone(CLAIRE, capable=True, fail_times=2, fail_status=503, outcome="silent")
    message_id = uuid4()
    await client.send(CLAIRE, message_id, RichContent(text="Bonjour"))
    state = await rbm.state()
    assert len(sends(state, message_id)) == 3
    assert list(state["messages"]) == [str(message_id)]


async def test_after_the_retries_a_temporary_failure_and_a_later_resend_is_stored_once(
    rbm: RbmPeer, client: RbmClient
) -> None:
    await rbm.phone(CLAIRE, capable=True, fail_times=3, fail_status=500, outcome="silent")
    message_id = uuid4()
    with pytest.raises(TemporaryFailure, match="500"):
        await client.send(CLAIRE, message_id, RichContent(text="Bonjour"))
    assert (await rbm.state())["messages"] == {}
    await client.send(CLAIRE, message_id, RichContent(text="Bonjour"))  # the dispatcher's retry
    await client.send(CLAIRE, message_id, RichContent(text="Bonjour"))  # a crash's resend
    state = await rbm.state()
    assert len(sends(state, message_id)) == 5
    assert list(state["messages"]) == [str(message_id)]


async def test_a_429_waits_for_retry_after_unless_it_is_too_long(
    rbm: RbmPeer, client: RbmClient
) -> None:
    await rbm.phone(CLAIRE, capable=True, fail_times=1, fail_status=429, retry_after=0.05)
    await client.send(CLAIRE, uuid4(), RichContent(text="Bonjour"))
    await rbm.phone(CLAIRE, capable=True, fail_times=1, fail_status=429, retry_after=60)
    message_id = uuid4()
    with pytest.raises(TemporaryFailure, match="429"):
        await client.send(CLAIRE, message_id, RichContent(text="Bonjour"))
    assert len(sends(await rbm.state(), message_id)) == 1  # not retried: left to the dispatcher


async def test_a_4xx_is_permanent_and_not_retried(rbm: RbmPeer, client: RbmClient) -> None:
    await rbm.phone(CLAIRE, capable=True, fail_times=1, fail_status=400)
    message_id = uuid4()
    with pytest.raises(PermanentFailure, match="400"):
        await client.send(CLAIRE, message_id, RichContent(text="Bonjour"))
    assert len(sends(await rbm.state(), message_id)) == 1


# Revocation


async def test_revoking_an_undelivered_message(rbm: RbmPeer, client: RbmClient) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent")
    message_id = uuid4()
    await client.send(CLAIRE, message_id, RichContent(text="Code : 123456"))
    assert await client.revoke(CLAIRE, message_id) == Revoked(message_id)
    state = await rbm.state()
    assert state["messages"][str(message_id)]["status"] == "revoked"
    assert state["requests"][-1]["method"] == "DELETE"
    assert state["requests"][-1]["path"] == f"/v1/phones/{CLAIRE}/agentMessages/{message_id}"


async def test_revoking_a_delivered_message_is_a_404_read_as_already_delivered(
    rbm: RbmPeer, client: RbmClient
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="deliver", delay=0.01)
    message_id = uuid4()
    await client.send(CLAIRE, message_id, RichContent(text="Code : 123456"))
    await webhooks(rbm, 1)  # DELIVERED
    assert await client.revoke(CLAIRE, message_id) == AlreadyDelivered(message_id)


async def test_a_revocation_that_loses_the_race_is_already_delivered_and_delivered_follows(
    rbm: RbmPeer, client: RbmClient
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent", revoke="already_delivered")
    message_id = uuid4()
    await client.send(CLAIRE, message_id, RichContent(text="Code : 123456"))
    assert await client.revoke(CLAIRE, message_id) == AlreadyDelivered(message_id)
    [delivered] = await webhooks(rbm, 1)
    assert decoded(delivered)["eventType"] == "DELIVERED"
    assert decoded(delivered)["messageId"] == str(message_id)


# Agent events


async def test_agent_events(rbm: RbmPeer, client: RbmClient) -> None:
    read_id, typing_id = uuid4(), uuid4()
    await client.agent_event(CLAIRE, read_id, AgentEventType.READ, message_id="MsUm0001")
    await client.agent_event(CLAIRE, typing_id, AgentEventType.IS_TYPING)
    assert (await rbm.state())["agent_events"] == [
        {"phone": CLAIRE, "eventId": str(read_id), "eventType": "READ", "messageId": "MsUm0001"},
        {"phone": CLAIRE, "eventId": str(typing_id), "eventType": "IS_TYPING"},
    ]
    with pytest.raises(ValueError, match="message_id"):
        await client.agent_event(CLAIRE, uuid4(), AgentEventType.READ)
    with pytest.raises(NotRcsUser):
        await client.agent_event(PAUL, uuid4(), AgentEventType.IS_TYPING)


# Webhooks: signatures, payloads, duplicates


async def test_signatures_good_forged_and_missing(rbm: RbmPeer, client: RbmClient) -> None:
    await client.send(CLAIRE, uuid4(), RichContent(text="Bonjour"))
    [received] = await webhooks(rbm, 1)
    assert verify_signature(received.body, received.signature, CLIENT_TOKEN)
    assert not verify_signature(received.body, received.signature, "ANOTHERAGENTTOKEN")
    assert not verify_signature(received.body, None, CLIENT_TOKEN)
    assert not verify_signature(received.body, "", CLIENT_TOKEN)
    envelope = json.loads(received.body)
    forged_data = decoded(received) | {"messageId": "someone-else"}
    envelope["message"]["data"] = base64.b64encode(json.dumps(forged_data).encode()).decode()
    assert not verify_signature(json.dumps(envelope).encode(), received.signature, CLIENT_TOKEN)


async def test_a_delivered_event_names_our_message(rbm: RbmPeer, client: RbmClient) -> None:
    message_id = uuid4()
    await client.send(CLAIRE, message_id, RichContent(text="Bonjour"))
    [received] = await webhooks(rbm, 1)
    event = parse_webhook(received.body)
    assert isinstance(event, RbmUserEvent)
    assert event.event_type == "DELIVERED"
    assert event.message_id == str(message_id)
    assert event.sender_phone_number == CLAIRE
    assert event.agent_id == AGENT_ID


async def test_a_text_and_a_suggestion_response(rbm: RbmPeer) -> None:
    await rbm.control("user_message", phone=CLAIRE, text="Plutôt jeudi")
    suggestion = {"postbackData": "slot=yes", "text": "Oui", "type": "REPLY"}
    await rbm.control("user_message", phone=CLAIRE, suggestionResponse=suggestion)
    parsed = [parse_webhook(received.body) for received in await webhooks(rbm, 2)]
    assert all(isinstance(message, RbmUserMessage) for message in parsed)
    by_kind = {
        ("text" if m.text else "suggestion"): m for m in parsed if isinstance(m, RbmUserMessage)
    }
    assert by_kind["text"].text == "Plutôt jeudi"
    assert by_kind["text"].sender_phone_number == CLAIRE
    response = by_kind["suggestion"].suggestion_response
    assert response is not None
    assert (response.postback_data, response.text, response.type) == ("slot=yes", "Oui", "REPLY")


async def test_a_redelivered_webhook_carries_the_same_ids(rbm: RbmPeer) -> None:
    rbm.receiver.fail_first = 1  # our endpoint is down once: the platform delivers again
    await rbm.control("user_message", phone=CLAIRE, text="Bonjour")
    first, second = await webhooks(rbm, 2)
    assert first.body == second.body
    assert first.signature == second.signature
    one, two = parse_webhook(first.body), parse_webhook(second.body)
    assert isinstance(one, RbmUserMessage)
    assert isinstance(two, RbmUserMessage)
    assert one.message_id == two.message_id
    assert [w["status"] for w in (await rbm.state())["webhooks"]] == [500, 200]


# The provider


@dataclass
class Sink:
    inbound_messages: list[ReceiveMessage] = field(default_factory=list)
    receipts: list[RecordReceipt] = field(default_factory=list)

    async def inbound(self, message: ReceiveMessage) -> None:
        self.inbound_messages.append(message)

    async def receipt(self, receipt: RecordReceipt) -> None:
        self.receipts.append(receipt)


def outbound(recipient: str, body: str) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        brand_id=uuid4(),
        channel=Channel.RCS,
        sender=AGENT_ID,
        recipient=recipient,
        body=body,
    )


async def test_the_provider_sends_text_and_feeds_receipts_and_replies_to_the_core(
    rbm: RbmPeer,
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="reply", reply_text="Merci !", delay=0.01)
    provider, sink = RcsProvider(rbm.settings()), Sink()
    await provider.start(sink)
    message = outbound(CLAIRE, "Votre colis arrive demain.")
    accepted = await provider.send(message)
    assert (accepted.provider, accepted.provider_message_id) == ("rcs", str(message.message_id))
    assert provider.channels == {Channel.RCS}
    for received in await webhooks(rbm, 2):
        await provider.handle_webhook(received.body, received.signature)
    await provider.stop()
    assert sink.receipts == [
        RecordReceipt(
            provider="rcs",
            provider_message_id=str(message.message_id),
            status=MessageStatus.DELIVERED,
        )
    ]
    [reply] = sink.inbound_messages
    assert (reply.channel, reply.sender, reply.recipient, reply.body) == (
        Channel.RCS,
        CLAIRE,
        AGENT_ID,
        "Merci !",
    )


async def test_the_provider_refuses_what_rcs_cannot_carry(rbm: RbmPeer) -> None:
    provider = RcsProvider(rbm.settings())
    await provider.start(Sink())
    with pytest.raises(NotRcsUser):
        await provider.send(outbound(PAUL, "Bonjour"))
    with pytest.raises(PermanentFailure, match="invalid_number"):
        await provider.send(outbound("06 12 34 56 78", "Bonjour"))
    with pytest.raises(PermanentFailure, match="3072"):
        await provider.send(outbound(CLAIRE, "a" * 3073))
    await provider.stop()


async def test_the_provider_answers_registration_and_refuses_forged_webhooks(
    rbm: RbmPeer,
) -> None:
    provider, sink = RcsProvider(rbm.settings()), Sink()
    await provider.start(sink)
    check = json.dumps({"clientToken": CLIENT_TOKEN, "secret": "1234567890"}).encode()
    assert (await provider.handle_webhook(check, None)).secret == "1234567890"
    await rbm.control("user_message", phone=CLAIRE, text="Bonjour")
    [received] = await webhooks(rbm, 1)
    with pytest.raises(WebhookRefused):
        await provider.handle_webhook(received.body, "bm90IGEgc2lnbmF0dXJl")
    with pytest.raises(WebhookRefused):
        await provider.handle_webhook(received.body, None)
    assert sink.inbound_messages == []
    await provider.stop()


def rich_outbound(recipient: str, content: RichContent, sender: str = AGENT_ID) -> OutboundMessage:
    return outbound(recipient, "la version SMS").model_copy(
        update={"rich": content.model_dump(mode="json", exclude_none=True), "sender": sender}
    )


def revoke_request(message: OutboundMessage) -> RevokeMessage:
    return RevokeMessage(
        message_id=message.message_id,
        conversation_id=message.conversation_id,
        brand_id=message.brand_id,
        channel=Channel.RCS,
        sender=message.sender,
        recipient=message.recipient,
        provider_message_id=str(message.message_id),
    )


async def test_the_provider_tells_capability_for_the_agent_its_sender_names(
    rbm: RbmPeer,
) -> None:
    await rbm.phone(CLAIRE, capable=True, features=["RICHCARD_STANDALONE", "ACTION_DIAL"])
    provider = RcsProvider(rbm.settings(agent_id="the-deployment-default"))
    await provider.start(Sink())
    assert isinstance(provider, RevokingProvider)
    assert await provider.capability(outbound(CLAIRE, "")) == CapabilityAnswer(
        capable=True, features=["ACTION_DIAL", "RICHCARD_STANDALONE"]
    )
    assert await provider.capability(outbound(PAUL, "")) == CapabilityAnswer(capable=False)
    with pytest.raises(PermanentFailure, match="invalid_number"):
        await provider.capability(outbound("06 12 34 56 78", ""))
    await provider.stop()
    queries = [r["query"] for r in (await rbm.state())["requests"]]
    assert [q["agentId"] for q in queries] == [AGENT_ID, AGENT_ID]


async def test_the_provider_sends_rich_content_and_the_body_only_without_it(
    rbm: RbmPeer,
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent")
    provider = RcsProvider(rbm.settings())
    await provider.start(Sink())
    rich = rich_outbound(CLAIRE, RichContent(text="Un créneau ?", suggestions=[YES, TRACK]))
    plain = outbound(CLAIRE, "Votre colis arrive demain.")
    for message in (rich, plain):
        accepted = await provider.send(message)
        assert accepted == Accepted(provider="rcs", provider_message_id=str(message.message_id))
    await provider.stop()
    state = await rbm.state()
    assert sends(state, rich.message_id)[0]["json"] == {
        "contentMessage": {
            "text": "Un créneau ?",
            "suggestions": [
                {"reply": {"text": "Oui", "postbackData": "slot=yes"}},
                {
                    "action": {
                        "text": "Suivre le colis",
                        "postbackData": "track",
                        "openUrlAction": {"url": "https://colis.example/t/42"},
                    }
                },
            ],
        }
    }
    assert sends(state, plain.message_id)[0]["json"] == {
        "contentMessage": {"text": "Votre colis arrive demain."}
    }


async def test_the_provider_sends_from_the_agent_its_sender_names(rbm: RbmPeer) -> None:
    await rbm.phone(CLAIRE, capable=True)
    provider = RcsProvider(rbm.settings())
    await provider.start(Sink())
    stranger = rich_outbound(CLAIRE, RichContent(text="Bonjour"), sender="another-brand_agent")
    with pytest.raises(PermanentFailure, match="403"):
        await provider.send(stranger)
    broken = outbound(CLAIRE, "").model_copy(update={"rich": {"text": "a", "card": {}}})
    with pytest.raises(PermanentFailure, match="rcs: "):
        await provider.send(broken)
    await provider.stop()
    [refused] = sends(await rbm.state(), stranger.message_id)
    assert refused["query"]["agentId"] == "another-brand_agent"


async def test_a_number_without_rcs_is_not_capable_for_the_core() -> None:
    refused = NotRcsUser(PAUL)
    assert isinstance(refused, NotCapable)
    assert (refused.reason, refused.phone) == ("not_capable", PAUL)


async def test_the_provider_revokes_or_says_why_not(rbm: RbmPeer) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent")
    provider = RcsProvider(rbm.settings())
    await provider.start(Sink())
    pending = outbound(CLAIRE, "Code : 123456")
    await provider.send(pending)
    assert await provider.revoke(revoke_request(pending)) == Revocation(result="revoked")
    # Once revoked, the id is gone: RBM would answer 404 ("delivered"). A redelivered request
    # (the dispatcher died before publishing the answer) is answered from the ledger.
    calls = len((await rbm.state())["requests"])
    assert await provider.revoke(revoke_request(pending)) == Revocation(result="revoked")
    assert len((await rbm.state())["requests"]) == calls

    refused = outbound(CLAIRE, "Code : 654321")
    await provider.send(refused)
    await rbm.phone(CLAIRE, capable=True, outcome="silent", fail_times=1, fail_status=403)
    answer = await provider.revoke(revoke_request(refused))
    assert answer.result == "failed"
    assert answer.reason.startswith("rbm 403")

    for status in (503, 429):
        await rbm.phone(CLAIRE, capable=True, outcome="silent", fail_times=3, fail_status=status)
        with pytest.raises(TemporaryFailure, match=str(status)):
            await provider.revoke(revoke_request(refused))
    assert (await provider.revoke(revoke_request(refused))).result == "revoked"
    await provider.stop()


async def test_the_provider_revocation_of_a_delivered_message(rbm: RbmPeer) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="deliver", delay=0.01)
    provider = RcsProvider(rbm.settings())
    await provider.start(Sink())
    message = outbound(CLAIRE, "Code : 123456")
    await provider.send(message)
    await webhooks(rbm, 1)  # DELIVERED
    assert await provider.revoke(revoke_request(message)) == Revocation(result="already_delivered")
    await provider.stop()


async def test_a_revocation_is_remembered_across_a_restart_of_the_dispatcher(
    rbm: RbmPeer, tmp_path: Path
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent")
    ledger = tmp_path / "rcs" / "revoked.sqlite3"
    first = RcsProvider(rbm.settings(), revocations=RevocationLedger(ledger))
    await first.start(Sink())
    pending = outbound(CLAIRE, "Code : 123456")
    await first.send(pending)
    assert (await first.revoke(revoke_request(pending))).result == "revoked"
    await first.stop()
    second = RcsProvider(rbm.settings(), revocations=RevocationLedger(ledger))
    await second.start(Sink())
    assert (await second.revoke(revoke_request(pending))).result == "revoked"
    other = outbound(CLAIRE, "Code : 999999")
    await second.send(other)
    await rbm.phone(CLAIRE, capable=True, outcome="silent", revoke="already_delivered")
    assert (await second.revoke(revoke_request(other))).result == "already_delivered"
    await second.stop()
