"""The whole send path over SMPP: API write → store → relay → dispatch → the SMSC → the
receipts back → the message delivered; and an MO from the SMSC opening a conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chainon.domain import commands as cmd
from chainon.domain.addresses import parse_phone
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus
from chainon.runtime import Runtime
from chainon.settings import SmppLinkSettings, StoreKind
from devtools.smsc_simulator import Smsc, submits_of
from tests.conftest import BRAND_SMS, CONSUMER, make_settings


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Smsc]:
    with Smsc(
        system_id="chainon", password="secret", directory=tmp_path / "smsc", pdu_log=False
    ) as simulator:
        yield simulator


@pytest.fixture
async def runtime(tmp_path: Path, smsc: Smsc) -> AsyncIterator[Runtime]:
    link = SmppLinkSettings(
        name="main", host="127.0.0.1", port=smsc.port, system_id="chainon", password="secret"
    )  # type: ignore[arg-type]
    settings = make_settings(StoreKind.SQLITE, tmp_path).model_copy(update={"smpp_links": [link]})
    runtime = Runtime(settings)
    await runtime.start()
    yield runtime
    await runtime.stop()
    runtime.close()


async def test_a_long_sms_goes_out_over_smpp_and_is_delivered_with_its_last_segment(
    runtime: Runtime, smsc: Smsc
) -> None:
    core = runtime.core
    brand = core.register_brand(slug="maison", name="Maison", senders=[(Channel.SMS, BRAND_SMS)])
    core.route_sender(brand.id, Channel.SMS, BRAND_SMS, "smpp:main")
    smsc.configure(receipt_order="reverse")
    body = "Votre commande 42 est partie ! " * 6  # 186 GSM-7 characters: 2 segments
    sent = await runtime.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body=body))

    def message() -> object:
        return core.get(Conversation, sent.conversation_id).message(sent.message_id)  # type: ignore[arg-type]

    for _ in range(500):
        if message().status is MessageStatus.DELIVERED:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.02)
    assert message().status is MessageStatus.DELIVERED  # type: ignore[attr-defined]
    submits = submits_of(smsc.log())
    assert len(submits) == 2
    assert {s["destination"] for s in submits} == {CONSUMER.lstrip("+")}

    smsc.mo(source="+33698765432", destination=BRAND_SMS, text="Bonjour !", data_coding=0)
    for _ in range(500):
        contact = core.find_contact(brand.id, parse_phone("+33698765432"))
        if contact is not None and contact.current_conversation_id is not None:
            break
        await asyncio.sleep(0.02)
    assert contact is not None
    conversation = core.get(Conversation, contact.current_conversation_id)  # type: ignore[arg-type]
    assert [m.body for m in conversation.messages.values()] == ["Bonjour !"]
