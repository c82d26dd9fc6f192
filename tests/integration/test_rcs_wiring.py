"""RCS wired into a running Chainon: the embedded runtime sends through the RcsProvider to
the fake RBM platform (tests/rbm), and the fake posts its signed webhooks to Chainon's own
``POST /v1/webhooks/rbm``, served by uvicorn on 127.0.0.1 in the test's event loop."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from chainon.adapters.channels.rcs.webhook import sign
from chainon.domain import commands as cmd
from chainon.domain.addresses import parse_phone
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.message import FallbackReason, FallbackState, Message
from chainon.domain.message_status import MessageStatus
from chainon.domain.rich_content import OpenUrl, RichContent, SuggestedAction, SuggestedReply
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import BRAND_SMS, make_settings
from tests.rbm.fixture import (
    AGENT_ID,
    CLIENT_TOKEN,
    RbmPeer,
    rbm_fixture,  # noqa: F401  (the ``rbm`` fixture)
    rbm_servers_fixture,  # noqa: F401
)
from tests.serving import serving

CLAIRE = "+33612345678"  # has RCS
PAUL = "+33698765432"  # has no RCS
WEBHOOK = "/v1/webhooks/rbm"
QUESTION = RichContent(
    text="Votre colis arrive demain. Quel créneau vous convient ?",
    suggestions=[
        SuggestedReply(text="Matin", postback_data="slot=am"),
        SuggestedReply(text="Après-midi", postback_data="slot=pm"),
        SuggestedAction(
            text="Suivre le colis",
            postback_data="track",
            action=OpenUrl(url="https://colis.example/t/42"),
        ),
    ],
)
# QUESTION as RBM must receive it (phones.agentMessages.create's AgentMessage), spelt out
# here rather than computed, so that a change in the encoding shows.
QUESTION_JSON = {
    "contentMessage": {
        "text": "Votre colis arrive demain. Quel créneau vous convient ?",
        "suggestions": [
            {"reply": {"text": "Matin", "postbackData": "slot=am"}},
            {"reply": {"text": "Après-midi", "postbackData": "slot=pm"}},
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
T = TypeVar("T")


@dataclass
class Chainon:
    runtime: Runtime
    brand: Brand
    url: str  # the webhook's
    rbm: RbmPeer

    async def send(self, to: str, rich: RichContent = QUESTION) -> cmd.Outcome:
        return await self.runtime.handle(cmd.SendMessage(brand_id=self.brand.id, to=to, rich=rich))

    def conversation(self, outcome: cmd.Outcome) -> Conversation:
        assert outcome.conversation_id is not None
        return self.runtime.core.get(Conversation, outcome.conversation_id)

    def message(self, outcome: cmd.Outcome) -> Message:
        assert outcome.message_id is not None
        return self.conversation(outcome).message(outcome.message_id)

    def contact(self, phone: str) -> Contact:
        contact = self.runtime.core.find_contact(self.brand.id, parse_phone(phone))
        assert contact is not None
        return contact

    async def post(self, body: bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Goog-Signature"] = signature
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.post(self.url, content=body, headers=headers)


@pytest.fixture
async def chainon(tmp_path: Path, rbm: RbmPeer) -> AsyncIterator[Chainon]:
    key_file = tmp_path / "rbm-service-account.json"
    key_file.write_text(json.dumps(rbm.key))
    settings = make_settings(StoreKind.SQLITE, tmp_path / "data").model_copy(
        update={
            "rbm_credentials_file": key_file,
            "rbm_api_url": rbm.url,
            "rbm_client_token": SecretStr(CLIENT_TOKEN),
        }
    )
    runtime = Runtime(settings)
    await runtime.start()
    core = runtime.core
    brand = core.register_brand(
        slug="maison-lumiere",
        name="Maison Lumière",
        senders=[(Channel.RCS, AGENT_ID), (Channel.SMS, BRAND_SMS)],
    )
    brand = core.route_sender(brand.id, Channel.RCS, AGENT_ID, "rcs")
    try:
        async with serving(runtime) as running:
            url = running.url + WEBHOOK
            await rbm.control("webhook", url=url, client_token=CLIENT_TOKEN)
            try:
                yield Chainon(runtime, brand, url, rbm)
            finally:
                await rbm.control("webhook", url=rbm.receiver_url, client_token=CLIENT_TOKEN)
    finally:
        await runtime.stop()
        runtime.close()


async def until(probe: Callable[[], T], within: float = 10.0) -> T:
    """The first truthy answer of ``probe``, polled until ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nothing came within {within}s")
        await asyncio.sleep(0.02)


def api_calls(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in state["requests"]]


def push(data: dict[str, Any], token: str = CLIENT_TOKEN) -> tuple[bytes, str]:
    """A notification as RBM posts it (a Pub/Sub push) and its X-Goog-Signature."""
    raw = json.dumps(data).encode()
    envelope = {
        "message": {
            "data": base64.b64encode(raw).decode(),
            "messageId": "9876543210",
            "publishTime": "2026-05-04T09:30:00.123Z",
        },
        "subscription": "projects/rbm-tests/subscriptions/rbm-agent-subscription",
    }
    return json.dumps(envelope).encode(), sign(raw, token)


def user_text(message_id: str, text: str, phone: str = PAUL) -> dict[str, Any]:
    return {
        "senderPhoneNumber": phone,
        "messageId": message_id,
        "sendTime": "2026-05-04T09:30:00.123Z",
        "agentId": AGENT_ID,
        "text": text,
    }


def delivered(message_id: str, phone: str = CLAIRE) -> dict[str, Any]:
    return {
        "senderPhoneNumber": phone,
        "eventType": "DELIVERED",
        "eventId": "MxEvForged0001",
        "messageId": message_id,
        "sendTime": "2026-05-04T09:30:00.123Z",
        "agentId": AGENT_ID,
    }


async def test_a_capable_number_gets_the_rich_message_over_rbm_and_no_sms(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    await rbm.phone(CLAIRE, capable=True, features=["RICHCARD_STANDALONE", "ACTION_OPEN_URL"])
    sent = await chainon.send(CLAIRE)
    assert sent.channel is Channel.RCS
    await until(lambda: chainon.message(sent).status is MessageStatus.DELIVERED)

    state = await rbm.state()
    assert api_calls(state) == [
        ("GET", f"/v1/phones/{CLAIRE}/capabilities"),
        ("POST", f"/v1/phones/{CLAIRE}/agentMessages"),
    ]
    capability, send = state["requests"]
    assert capability["query"]["agentId"] == AGENT_ID
    assert send["query"] == {"messageId": str(sent.message_id), "agentId": AGENT_ID}
    assert send["json"] == QUESTION_JSON
    # The receipt found its message because the id sent is the id RBM echoed.
    message = chainon.message(sent)
    assert (message.provider, message.provider_message_id) == ("rcs", str(sent.message_id))
    assert [w["status"] for w in state["webhooks"]] == [200]
    assert [w["data"]["eventType"] for w in state["webhooks"]] == ["DELIVERED"]

    checked = [
        e
        for e in chainon.runtime.core.events.get(chainon.contact(CLAIRE).id)
        if isinstance(e, Contact.CapabilityChecked)
    ]
    assert [(e.capable, e.features) for e in checked] == [
        (True, ["ACTION_OPEN_URL", "RICHCARD_STANDALONE"])
    ]
    await asyncio.sleep(0.3)  # time enough for a wrong fallback to be queued and sent
    conversation = chainon.conversation(sent)
    assert [m.channel for m in conversation.messages.values()] == [Channel.RCS]
    assert message.fallback is not None
    assert message.fallback.state is FallbackState.SETTLED
    assert chainon.runtime.provider.sent == {}  # the sandbox (SMS) sent nothing


async def test_a_fresh_capability_answer_spares_the_next_send_its_check(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    await rbm.phone(CLAIRE, capable=True, features=["RICHCARD_STANDALONE"])
    first = await chainon.send(CLAIRE)
    await until(lambda: chainon.message(first).status is MessageStatus.DELIVERED)
    await until(
        lambda: chainon.contact(CLAIRE).capable_of(Channel.RCS, at=chainon.runtime.core.clock())
    )

    second = await chainon.send(CLAIRE)
    await until(lambda: chainon.message(second).status is MessageStatus.SENT)

    # RBM rate-limits capability checks: the answer recorded on the contact an instant
    # ago is trusted (for CAPABILITY_TTL) instead of asking again before the second send.
    assert api_calls(await rbm.state()) == [
        ("GET", f"/v1/phones/{CLAIRE}/capabilities"),
        ("POST", f"/v1/phones/{CLAIRE}/agentMessages"),
        ("POST", f"/v1/phones/{CLAIRE}/agentMessages"),
    ]
    assert second.channel is Channel.RCS


async def test_a_number_without_rcs_gets_the_sms_with_numbered_choices(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    sent = await chainon.send(PAUL)  # the fake knows PAUL as a number without RCS

    def replacement() -> Message | None:
        messages = list(chainon.conversation(sent).messages.values())
        return messages[1] if len(messages) == 2 else None

    sms = await until(replacement)
    await until(
        lambda: chainon.conversation(sent).message(sms.id).status is MessageStatus.DELIVERED
    )

    rcs = chainon.message(sent)
    assert rcs.status is MessageStatus.FAILED
    assert rcs.reason == "not_capable"
    assert rcs.fallback is not None
    assert (rcs.fallback.state, rcs.fallback.reason, rcs.fallback.replacement_id) == (
        FallbackState.TRIGGERED,
        FallbackReason.NOT_CAPABLE,
        sms.id,
    )
    assert (sms.channel, sms.sender, sms.recipient, sms.fallback_of) == (
        Channel.SMS,
        BRAND_SMS,
        PAUL,
        rcs.id,
    )
    assert sms.body == (
        "Votre colis arrive demain. Quel créneau vous convient ?\n"
        "Répondez 1 pour Matin, 2 pour Après-midi, "
        "3 pour Suivre le colis (https://colis.example/t/42)"
    )
    assert [m.body for m in chainon.runtime.provider.sent.values()] == [sms.body]
    # RBM was asked, said no, and was never sent the message.
    assert api_calls(await rbm.state()) == [("GET", f"/v1/phones/{PAUL}/capabilities")]
    checked = [
        e
        for e in chainon.runtime.core.events.get(chainon.contact(PAUL).id)
        if isinstance(e, Contact.CapabilityChecked)
    ]
    assert [(e.channel, e.capable) for e in checked] == [("rcs", False)]


async def test_the_deadline_revokes_the_rcs_message_and_the_sms_follows(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent")
    sent = await chainon.send(CLAIRE)
    await until(lambda: chainon.message(sent).status is MessageStatus.SENT)
    assert sent.conversation_id is not None
    assert sent.message_id is not None
    await chainon.runtime.handle(
        cmd.EnforceFallbackDeadline(
            conversation_id=sent.conversation_id, message_id=sent.message_id, now=True
        )
    )
    await until(lambda: len(chainon.conversation(sent).messages) == 2)
    state = await rbm.state()
    assert ("DELETE", f"/v1/phones/{CLAIRE}/agentMessages/{sent.message_id}") in api_calls(state)
    assert state["messages"][str(sent.message_id)]["status"] == "revoked"
    rcs = chainon.message(sent)
    assert rcs.fallback is not None
    assert rcs.fallback.reason is FallbackReason.DEADLINE
    assert [m.channel for m in chainon.conversation(sent).messages.values()] == [
        Channel.RCS,
        Channel.SMS,
    ]


async def test_a_revocation_that_loses_the_race_sends_no_sms(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent", revoke="already_delivered")
    sent = await chainon.send(CLAIRE)
    await until(lambda: chainon.message(sent).status is MessageStatus.SENT)
    assert sent.conversation_id is not None
    assert sent.message_id is not None
    await chainon.runtime.handle(
        cmd.EnforceFallbackDeadline(
            conversation_id=sent.conversation_id, message_id=sent.message_id, now=True
        )
    )
    await until(lambda: chainon.message(sent).status is MessageStatus.DELIVERED)
    # The DELIVERED webhook that follows the lost race lands on a delivered message.
    await rbm.eventually(lambda: _statuses(rbm))
    await asyncio.sleep(0.3)
    assert [m.channel for m in chainon.conversation(sent).messages.values()] == [Channel.RCS]
    assert chainon.runtime.provider.sent == {}


async def _statuses(rbm: RbmPeer) -> list[int]:
    return [w["status"] for w in (await rbm.state())["webhooks"]]


async def test_a_forged_or_unsigned_webhook_is_refused_and_nothing_is_recorded(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent")
    sent = await chainon.send(CLAIRE)
    await until(lambda: chainon.message(sent).status is MessageStatus.SENT)

    forged_receipt, _ = push(delivered(str(sent.message_id)))
    _, forged_signature = push(delivered(str(sent.message_id)), token="NOT-THE-TOKEN")
    forged_message, forged_message_signature = push(user_text("MsForged", "Payez ici"), "WRONG")
    for body, signature in [
        (forged_receipt, forged_signature),
        (forged_receipt, None),
        (forged_message, forged_message_signature),
        (forged_message, None),
        (forged_message, ""),
    ]:
        answer = await chainon.post(body, signature)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert "X-Goog-Signature" in answer.json()["detail"]

    # A genuine message after the forged ones, on the same key: once the core has it, it
    # would have had the forged one, had it been put on the bus.
    genuine, signature = push(user_text("MsGenuine", "Bonjour"))
    assert (await chainon.post(genuine, signature)).status_code == 200
    core = chainon.runtime.core
    await until(lambda: core.inbound_outcome("rcs", "MsGenuine"))
    assert core.inbound_outcome("rcs", "MsForged") is None
    conversation = core.get(Conversation, chainon.contact(PAUL).current_conversation_id)  # type: ignore[arg-type]
    assert [m.body for m in conversation.messages.values()] == ["Bonjour"]
    assert chainon.message(sent).status is MessageStatus.SENT


async def test_the_registration_check_and_malformed_notifications(chainon: Chainon) -> None:
    check = json.dumps({"clientToken": CLIENT_TOKEN, "secret": "1234567890"}).encode()
    answer = await chainon.post(check, None)
    assert (answer.status_code, answer.text) == (200, "1234567890")
    another = json.dumps({"clientToken": "ANOTHER-AGENT", "secret": "1234567890"}).encode()
    answer = await chainon.post(another, None)
    assert answer.status_code == 401
    assert "1234567890" not in answer.text

    missing_sender = user_text("MsBroken", "Bonjour")
    del missing_sender["senderPhoneNumber"]
    body, signature = push(missing_sender)
    answer = await chainon.post(body, signature)
    assert answer.status_code == 400
    assert answer.json()["field"] == "message.data.senderPhoneNumber"
    assert chainon.runtime.core.inbound_outcome("rcs", "MsBroken") is None


async def test_duplicate_webhooks_are_recorded_once(chainon: Chainon, rbm: RbmPeer) -> None:
    await rbm.control("webhook", url=chainon.url, client_token=CLIENT_TOKEN, duplicate=True)
    await rbm.phone(CLAIRE, capable=True, outcome="reply", reply_text="Merci !")
    sent = await chainon.send(CLAIRE)

    def inbound() -> list[Message]:
        messages = chainon.conversation(sent).messages.values()
        return [m for m in messages if m.direction == "inbound"]

    await until(inbound)
    posts = await rbm.eventually(lambda: _all_posts(rbm, 4))
    assert all(post["status"] == 200 for post in posts)
    receipts = [p["data"] for p in posts if p["data"].get("eventType") == "DELIVERED"]
    replies = [p["data"] for p in posts if "text" in p["data"]]
    assert len(receipts) == 2
    assert receipts[0] == receipts[1]  # the very same notification, twice
    assert len(replies) == 2
    assert replies[0] == replies[1]
    await asyncio.sleep(0.3)  # time enough for a second copy to be recorded, were it to be
    assert [m.body for m in inbound()] == ["Merci !"]
    history = [status for status, _ in chainon.message(sent).history]
    assert history.count(MessageStatus.DELIVERED) == 1
    received = [
        e
        for e in chainon.runtime.core.events.get(sent.conversation_id)  # type: ignore[arg-type]
        if isinstance(e, Conversation.MessageReceived)
    ]
    assert len(received) == 1


async def _all_posts(rbm: RbmPeer, count: int) -> list[dict[str, Any]] | None:
    posts: list[dict[str, Any]] = (await rbm.state())["webhooks"]
    return posts if len(posts) >= count else None


async def test_a_read_receipt_marks_the_message_read_once(chainon: Chainon, rbm: RbmPeer) -> None:
    await rbm.control("webhook", url=chainon.url, client_token=CLIENT_TOKEN, duplicate=True)
    await rbm.phone(CLAIRE, capable=True, outcome="read")
    sent = await chainon.send(CLAIRE)

    message = await until(lambda: m if (m := chainon.message(sent)).read_at else None)
    posts = await rbm.eventually(lambda: _all_posts(rbm, 4))
    assert sorted(p["data"]["eventType"] for p in posts) == ["DELIVERED"] * 2 + ["READ"] * 2
    assert message.status is MessageStatus.DELIVERED
    await asyncio.sleep(0.3)  # time enough for the second READ to be recorded, were it to be
    events = chainon.runtime.core.events.get(sent.conversation_id)  # type: ignore[arg-type]
    read = [e for e in events if isinstance(e, Conversation.MessageRead)]
    assert [e.message_id for e in read] == [sent.message_id]
    assert chainon.message(sent).read_at == read[0].timestamp


async def test_a_read_receipt_that_overtakes_its_delivery_delivers_the_message(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    await rbm.phone(CLAIRE, capable=True, outcome="silent")  # RBM will say nothing itself
    sent = await chainon.send(CLAIRE)
    await until(lambda: chainon.message(sent).status is MessageStatus.SENT)

    body, signature = push(
        {**delivered(str(sent.message_id)), "eventType": "READ", "eventId": "MxRead0001"}
    )
    assert (await chainon.post(body, signature)).status_code == 200

    message = await until(lambda: m if (m := chainon.message(sent)).read_at else None)
    assert message.status is MessageStatus.DELIVERED
    assert message.fallback is not None
    assert message.fallback.state is FallbackState.SETTLED  # read, so no SMS will follow


async def test_a_tapped_suggestion_is_the_consumers_reply_in_the_conversation(
    chainon: Chainon, rbm: RbmPeer
) -> None:
    await rbm.phone(CLAIRE, capable=True)
    sent = await chainon.send(CLAIRE)
    await until(lambda: chainon.message(sent).status is MessageStatus.DELIVERED)
    tapped = {"postbackData": "slot=pm", "text": "Après-midi", "type": "REPLY"}
    await rbm.control("user_message", phone=CLAIRE, suggestionResponse=tapped)

    def reply() -> Message | None:
        messages = list(chainon.conversation(sent).messages.values())
        return messages[-1] if messages[-1].direction == "inbound" else None

    answer = await until(reply)
    assert (answer.channel, answer.sender, answer.recipient, answer.body) == (
        Channel.RCS,
        CLAIRE,
        AGENT_ID,
        "Après-midi",
    )
    [post] = [w for w in (await rbm.state())["webhooks"] if "suggestionResponse" in w["data"]]
    assert post["status"] == 200
    assert chainon.runtime.core.inbound_outcome("rcs", post["data"]["messageId"]) is not None
    # The postback reached the core: the choice is the conversation's, as the brand set it.
    assert chainon.conversation(sent).choices == {answer.id: ("slot=pm", "Après-midi")}


class BusDown:
    """A sink whose bus refuses every record."""

    async def inbound(self, message: cmd.ReceiveMessage) -> None:
        raise ConnectionError("the bus is down")

    async def receipt(self, receipt: cmd.RecordReceipt) -> None:
        raise ConnectionError("the bus is down")

    async def refused(self, refusal: object) -> None:
        raise ConnectionError("the bus is down")


async def test_rbm_is_not_answered_200_when_the_bus_did_not_take_the_record(
    chainon: Chainon,
) -> None:
    webhook = chainon.runtime.rbm_webhook
    assert webhook is not None
    webhook.sink = BusDown()  # type: ignore[assignment]
    body, signature = push(user_text("MsLost", "Bonjour"))
    answer = await chainon.post(body, signature)
    assert answer.status_code >= 500  # RBM redelivers: the message is not lost
