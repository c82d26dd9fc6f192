"""The fallback end to end against both real-shaped peers: RCS through the fake RBM
platform, the SMS that replaces it through the SMPP simulator (node-smpp), receipts and
webhooks back. Counts what each peer was handed: never two SMS for one message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message import FallbackReason, Message
from chainon.domain.message_status import MessageStatus
from chainon.runtime import Runtime
from chainon.settings import SmppLinkSettings, StoreKind
from devtools.smsc_simulator import Smsc, submits_of
from tests.conftest import BRAND_SMS, make_settings
from tests.integration.test_rcs_wiring import (
    CLAIRE,
    PAUL,
    QUESTION,
    WEBHOOK,
    delivered,
    push,
    until,
)
from tests.rbm.fixture import (
    AGENT_ID,
    CLIENT_TOKEN,
    RbmPeer,
    rbm_fixture,  # noqa: F401  (the ``rbm`` fixture)
    rbm_servers_fixture,  # noqa: F401
)
from tests.serving import serving


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Smsc]:
    with Smsc(
        system_id="chainon", password="secret", directory=tmp_path / "smsc", pdu_log=False
    ) as simulator:
        yield simulator


@dataclass
class Peers:
    runtime: Runtime
    brand: Brand
    rbm: RbmPeer
    smsc: Smsc
    webhook: str

    async def send(self, to: str) -> cmd.Outcome:
        return await self.runtime.handle(
            cmd.SendMessage(brand_id=self.brand.id, to=to, rich=QUESTION)
        )

    def messages(self, sent: cmd.Outcome) -> list[Message]:
        assert sent.conversation_id is not None
        conversation = self.runtime.core.get(Conversation, sent.conversation_id)
        return list(conversation.messages.values())

    def sms_submits(self, to: str) -> list[dict[str, object]]:
        return [s for s in submits_of(self.smsc.log()) if s["destination"] == to.lstrip("+")]


@pytest.fixture
async def peers(tmp_path: Path, rbm: RbmPeer, smsc: Smsc) -> AsyncIterator[Peers]:
    key_file = tmp_path / "rbm-service-account.json"
    key_file.write_text(json.dumps(rbm.key))
    link = SmppLinkSettings(
        name="main", host="127.0.0.1", port=smsc.port, system_id="chainon", password="secret"
    )  # type: ignore[arg-type]
    settings = make_settings(StoreKind.SQLITE, tmp_path / "data").model_copy(
        update={
            "rbm_credentials_file": key_file,
            "rbm_api_url": rbm.url,
            "rbm_client_token": SecretStr(CLIENT_TOKEN),
            "smpp_links": [link],
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
    core.route_sender(brand.id, Channel.RCS, AGENT_ID, "rcs")
    brand = core.route_sender(brand.id, Channel.SMS, BRAND_SMS, "smpp:main")
    try:
        async with serving(runtime) as running:
            webhook = running.url + WEBHOOK
            await rbm.control("webhook", url=webhook, client_token=CLIENT_TOKEN)
            try:
                yield Peers(runtime, brand, rbm, smsc, webhook)
            finally:
                await rbm.control("webhook", url=rbm.receiver_url, client_token=CLIENT_TOKEN)
    finally:
        await runtime.stop()
        runtime.close()


async def test_not_capable_the_sms_goes_over_smpp_with_numbered_choices_and_is_delivered(
    peers: Peers,
) -> None:
    sent = await peers.send(PAUL)
    await until(lambda: len(peers.messages(sent)) == 2)
    rcs, sms = peers.messages(sent)
    await until(lambda: peers.messages(sent)[1].status is MessageStatus.DELIVERED)
    assert rcs.fallback is not None
    assert rcs.fallback.reason is FallbackReason.NOT_CAPABLE
    (submit,) = peers.sms_submits(PAUL)
    assert submit["text"] == sms.body
    assert "Répondez 1 pour Matin, 2 pour Après-midi" in str(submit["text"])
    assert submit["registered_delivery"] == 1


async def test_the_deadline_revokes_then_one_sms_and_a_late_rcs_delivery_sends_no_other(
    peers: Peers,
) -> None:
    await peers.rbm.phone(CLAIRE, capable=True, outcome="silent")
    sent = await peers.send(CLAIRE)
    await until(lambda: peers.messages(sent)[0].status is MessageStatus.SENT)
    assert sent.conversation_id is not None
    assert sent.message_id is not None
    ids = {"conversation_id": sent.conversation_id, "message_id": sent.message_id}
    deadline = cmd.EnforceFallbackDeadline(now=True, **ids)  # type: ignore[arg-type]
    await peers.runtime.handle(deadline)
    await until(lambda: len(peers.messages(sent)) == 2)
    await until(lambda: peers.messages(sent)[1].status is MessageStatus.DELIVERED)
    assert peers.messages(sent)[0].status is MessageStatus.REVOKED

    # RBM reports a delivery after all (it raced the revocation), and the deadline fires
    # again: both recorded as they are, and still one SMS on the wire.
    body, signature = push(delivered(str(sent.message_id), phone=CLAIRE))
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(
            peers.webhook,
            content=body,
            headers={"Content-Type": "application/json", "X-Goog-Signature": signature},
        )
    assert answer.status_code == 200
    await peers.runtime.handle(deadline)
    await until(lambda: peers.messages(sent)[0].status is MessageStatus.DELIVERED)
    await asyncio.sleep(0.3)
    assert len(peers.messages(sent)) == 2
    assert len(peers.sms_submits(CLAIRE)) == 1
