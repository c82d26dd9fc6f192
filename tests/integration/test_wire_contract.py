"""What is on the wire matches the AsyncAPI document, on the embedded log and on Kafka.

A real runtime (every role, the sandbox for SMS and RCS, an SMPP link to the SMSC simulator)
is driven the way its users drive it — a brand's commands on the commands topic, consumers
writing in, receipts, RCS fallbacks and revocations, agents at work — while a consumer group
of the test's own reads every topic from the start. Each record is then validated against
the payload schema (and key, and headers) of its message in the exported document, and the
event types seen must cover every event message the document lists: a field, a type or an
event added without the document knowing fails here.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from chainon.adapters.bus.port import Consumer, Outgoing, Record
from chainon.adapters.channels.sandbox import SandboxOutcome
from chainon.api.app import create_app
from chainon.asyncapi import document, event_messages
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.consent_settings import ConsentSettings
from chainon.domain.message_status import MessageStatus
from chainon.domain.purpose import Purpose
from chainon.domain.rich_content import RichContent, SuggestedReply
from chainon.flows import publish as publish_flow
from chainon.runtime import Runtime
from chainon.settings import BusKind, Settings, SmppLinkSettings, StoreKind
from chainon.topic_records import COMMANDS, INBOUND, dump
from chainon.topics import Topics
from devtools.smsc_simulator import Smsc
from tests.conftest import BRAND_SMS, make_settings

SMPP_SENDER = "+33939000002"  # the second brand's number, carried by the SMPP link
PAUL, CLAIRE, LEA, HUGO, INES, JULES, MAX, ROSE = (f"+3361234567{n}" for n in range(8))
NOE = "+33612345680"  # talks to the bot
BOT_FLOW = """
name: wire
triggers:
  keywords: [BOT]
steps:
  - id: slot
    type: ask
    text: Quel créneau ?
    answer:
      kind: choice
      choices: [{value: am, label: Matin}, {value: pm, label: Soir}]
    store_as: slot
  - id: done
    type: end
    text: Merci !
"""
SATURDAY_NIGHT_IN_PARIS = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)  # 21:00 there
MONDAY_MORNING_IN_PARIS = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)  # 08:30 there
QUESTION = RichContent(
    text="Votre colis arrive demain. Ce créneau vous convient ?",
    suggestions=[
        SuggestedReply(text="Oui", postback_data="slot_ok"),
        SuggestedReply(text="Non", postback_data="slot_change"),
    ],
)
FORMATS = jsonschema.FormatChecker()
POISON = b"{not json"  # the one record on the wire that is not Chainon's own


def tags(adapter: Any) -> set[str]:
    """The ``type`` of every branch of a union of records."""
    schema = adapter.json_schema()
    branches = [schema["$defs"][b["$ref"].rsplit("/", 1)[-1]] for b in schema["oneOf"]]
    return {branch["properties"]["type"]["const"] for branch in branches}


class Wire:
    """Every record of the deployment's topics, read by a consumer group of its own."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.records: list[Record] = []

    async def follow(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.records += await self.consumer.poll(500, timeout=0.2)

    def events(self, kind: str) -> list[dict[str, Any]]:
        values = (json.loads(r.value) for r in self.records if r.topic.endswith(".events.v1"))
        return [v for v in values if v["type"] == kind]

    async def event(
        self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """The first ``kind`` event whose data matches, once it is on the events topic."""
        for _ in range(600):
            found = [e for e in self.events(kind) if where(e["data"])]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind} event on the wire within 30 s")


class Conformance:
    """Validates records against the document: the message of their channel (picked by the
    ``type`` tag where a channel carries several), its Kafka key, its headers."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.channels = {c["address"]: c for c in doc["channels"].values()}

    def message(self, record: Record, value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        names = [
            m["$ref"].rsplit("/", 1)[-1] for m in self.channels[record.topic]["messages"].values()
        ]
        messages = self.doc["components"]["messages"]
        if len(names) > 1:
            names = [
                n
                for n in names
                if messages[n]["payload"]["properties"]["type"].get("const") == value.get("type")
            ]
        assert len(names) == 1, (
            f"{record.topic}: no message of the document for {value.get('type')!r}"
        )
        return names[0], messages[names[0]]

    def validator(self, schema: dict[str, Any]) -> jsonschema.Draft7Validator:
        return jsonschema.Draft7Validator(
            {**schema, "components": self.doc["components"]}, format_checker=FORMATS
        )

    def problems(self, record: Record) -> list[str]:
        value = json.loads(record.value)
        name, message = self.message(record, value)
        where = f"{record.topic}@{record.offset} ({name})"
        found = [
            f"{where} value: {e.message[:300]}"
            for e in self.validator(message["payload"]).iter_errors(value)
        ]
        key = message["bindings"]["kafka"]["key"]
        found += [
            f"{where} key: {e.message}" for e in self.validator(key).iter_errors(record.key or "")
        ]
        headers = {k: v.decode() for k, v in record.headers}
        if "headers" in message:
            found += [
                f"{where} headers: {e.message}"
                for e in self.validator(message["headers"]).iter_errors(headers)
            ]
        elif headers:
            found.append(f"{where} headers: {sorted(headers)} not in the document")
        return found


class Story:
    """A brand's day, told through the bus: what Chainon hears and says is all on the wire."""

    def __init__(self, runtime: Runtime, wire: Wire, smsc: Smsc) -> None:
        self.runtime = runtime
        self.wire = wire
        self.smsc = smsc
        self.topics = runtime.topics
        core = runtime.core
        self.brand = core.register_brand(
            slug="maison-lumiere",
            name="Maison Lumière",
            senders=[(Channel.RCS, "maison_agent"), (Channel.SMS, BRAND_SMS)],
        )
        self.atelier = core.register_brand(
            slug="atelier", name="Atelier", senders=[(Channel.SMS, SMPP_SENDER)]
        )
        core.route_sender(self.atelier.id, Channel.SMS, SMPP_SENDER, "smpp:main")

    async def command(self, command: cmd.Command, key: str) -> None:
        command = command.model_copy(update={"command_id": uuid.uuid4()})
        await self.runtime.bus.publish([Outgoing(self.topics.commands, key, dump(command))])

    async def inbound(self, command: cmd.Command, key: str) -> None:
        """As the deadline scheduler or an operator's "fall back now" hands it to the core."""
        await self.runtime.bus.publish([Outgoing(self.topics.inbound, key, dump(command))])

    async def send(self, brand: Brand, to: str, **fields: Any) -> None:
        await self.command(cmd.SendMessage(brand_id=brand.id, to=to, **fields), key=to)

    async def queued(self, to: str, channel: Channel) -> dict[str, Any]:
        return await self.wire.event(
            "Conversation.MessageQueued", lambda d: d["recipient"] == to and d["channel"] == channel
        )

    async def tell(self) -> None:
        await self.brand_settings()
        await self.conversation_with_agents()
        await self.rcs_fallbacks()
        await self.smpp()
        await self.consent_and_quiet_hours()
        await self.receipt_overdue()
        await self.campaign()
        await self.bot_dialogues()
        await self.erasure()
        # A message to a number no brand owns is refused, and kept as a fact.
        await self.runtime.provider.inject_inbound(
            sender=PAUL, recipient="+33939000099", body="Allô ?"
        )
        await self.wire.event("RefusedInbound.InboundRefused")
        # A record nobody can read goes to the dead letters, with its reason in a header.
        await self.runtime.bus.publish([Outgoing(self.topics.commands, "broken", POISON)])
        for _ in range(600):
            if any(r.topic == Topics.dlq(self.topics.commands) for r in self.wire.records):
                break
            await asyncio.sleep(0.05)

    async def brand_settings(self) -> None:
        brand_id = self.brand.id
        await self.command(
            cmd.ConfigureQueue(brand_id=brand_id, first_response_minutes=15), str(brand_id)
        )
        await self.command(
            cmd.SetAgentCapacity(brand_id=brand_id, agent="camille", capacity=3), str(brand_id)
        )
        await self.command(
            cmd.ConfigureFallback(brand_id=brand_id, after_seconds=120), str(brand_id)
        )
        await self.wire.event("Brand.AgentCapacitySet")

    async def conversation_with_agents(self) -> None:
        b = self.brand.id
        await self.runtime.provider.inject_inbound(
            sender=PAUL, recipient=BRAND_SMS, body="Bonjour, ma commande ?"
        )
        received = await self.wire.event(
            "Conversation.MessageReceived", lambda d: d["sender"] == PAUL
        )
        registered = await self.wire.event("Contact.Registered", lambda d: d["address"] == PAUL)
        c, contact = received["aggregate_id"], registered["aggregate_id"]
        for command in (
            cmd.ClaimConversation(brand_id=b, conversation_id=c, agent="camille"),
            cmd.AssignConversation(brand_id=b, conversation_id=c, agent="lucas", team="support"),
            cmd.PrioritizeConversation(brand_id=b, conversation_id=c, priority=2),
            cmd.TagConversation(brand_id=b, conversation_id=c, add=["livraison"]),
            cmd.TagConversation(brand_id=b, conversation_id=c, remove=["livraison"]),
            cmd.Reply(brand_id=b, conversation_id=c, body="Elle part demain.", author="lucas"),
            cmd.ResolveConversation(brand_id=b, conversation_id=c, by="lucas"),
            cmd.ReopenConversation(brand_id=b, conversation_id=c),
        ):
            await self.command(command, key=c)
        for command in (
            cmd.UpdateContact(
                brand_id=b, contact_id=contact, name="Paul", attributes={"ville": "Lyon"}
            ),
            cmd.UpdateContact(brand_id=b, contact_id=contact, attributes={"ville": None}),
            cmd.AddContactAddress(brand_id=b, contact_id=contact, address="paul@example.com"),
        ):
            await self.command(command, key=contact)
        await self.wire.event("Conversation.ReplyAuthored", lambda d: d["author"] == "lucas")
        await self.wire.event("Conversation.Reopened")
        await self.wire.event("Contact.AddressAdded")
        await self.wire.event("Conversation.MessageDelivered")

    async def erasure(self) -> None:
        """A contact asks to be forgotten: an operator's act (API or CLI), not a command."""
        from chainon.erasure import erase_contact

        forgotten = "+33612340999"
        await self.runtime.provider.inject_inbound(
            sender=forgotten, recipient=BRAND_SMS, body="Oubliez-moi"
        )
        registered = await self.wire.event(
            "Contact.Registered", lambda d: d["address"] == forgotten
        )
        contact = uuid.UUID(registered["aggregate_id"])
        await self.runtime.call(
            erase_contact, self.runtime.core, self.brand.id, contact, by="operator"
        )
        await self.wire.event("Contact.ContactErased", lambda d: d["by"] == "operator")

    async def rcs_fallbacks(self) -> None:
        sandbox = self.runtime.provider
        sandbox.set_outcome(CLAIRE, SandboxOutcome.NOT_CAPABLE)
        for silent in (LEA, HUGO):
            sandbox.set_outcome(silent, SandboxOutcome.SILENT, Channel.RCS)
        for to in (CLAIRE, LEA, HUGO, INES):
            await self.send(self.brand, to, rich=QUESTION)
        # Claire's phone takes no RCS: the SMS with numbered choices replaces it; "1" picks.
        await self.queued(CLAIRE, Channel.SMS)
        await sandbox.inject_inbound(sender=CLAIRE, recipient=BRAND_SMS, body="1")
        await self.wire.event("Conversation.SuggestionChosen")
        # Léa's message never arrives: fall back now revokes it, and the SMS follows.
        lea = await self.sent(LEA)
        await self.inbound(
            cmd.EnforceFallbackDeadline(
                conversation_id=lea["conversation"], message_id=lea["message"], now=True
            ),
            key=lea["conversation"],
        )
        await self.wire.event("Conversation.MessageRevoked")
        # Hugo's phone has it but the receipt was lost: the revocation comes too late.
        hugo = await self.sent(HUGO)
        sandbox.delivered.add(hugo["provider_message_id"])
        await self.inbound(
            cmd.EnforceFallbackDeadline(
                conversation_id=hugo["conversation"], message_id=hugo["message"], now=True
            ),
            key=hugo["conversation"],
        )
        await self.wire.event("Conversation.RevocationFailed")
        # Inès opens hers: RBM's READ, through the sink every provider publishes with.
        ines = await self.sent(INES)
        await self.wire.event(
            "Conversation.MessageDelivered", lambda d: d["message_id"] == ines["message"]
        )
        read = cmd.RecordReceipt(
            provider=sandbox.name,
            provider_message_id=ines["provider_message_id"],
            status=MessageStatus.DELIVERED,
            read=True,
        )
        await self.runtime.publisher.receipt(read)
        await self.wire.event("Conversation.MessageRead")

    async def sent(self, to: str) -> dict[str, Any]:
        queued = await self.queued(to, Channel.RCS)
        message = queued["data"]["message_id"]
        sent = await self.wire.event(
            "Conversation.MessageSent", lambda d: d["message_id"] == message
        )
        return {
            "conversation": queued["aggregate_id"],
            "message": message,
            "provider_message_id": sent["data"]["provider_message_id"],
        }

    async def smpp(self) -> None:
        """A long SMS is delivered segment by segment; the SMSC lets another one expire."""
        self.smsc.configure(fail_destinations=[MAX.lstrip("+")], fail_stat="EXPIRED")
        await self.send(self.atelier, JULES, body="Votre commande 42 est partie ! " * 6)
        await self.send(self.atelier, MAX, body="Votre commande 43 est partie.")
        await self.wire.event("Conversation.SegmentDelivered")
        await self.wire.event("Conversation.MessageExpired")

    async def consent_and_quiet_hours(self) -> None:
        """Marketing: blocked without an opt-in, held by quiet hours then released; replies
        read as consent (words the detector is unsure of, then a clear STOP)."""
        core, b = self.runtime.core, self.brand.id
        registered = await self.wire.event("Contact.Registered", lambda d: d["address"] == PAUL)
        paul = uuid.UUID(registered["aggregate_id"])
        await self.command(cmd.ConfigureOptOutMention(brand_id=b, append=True), str(b))
        # The same switch inside the whole document: in force already, so nothing changes.
        settings = ConsentSettings(append_opt_out_mention=True)
        await self.command(cmd.ConfigureConsentSettings(brand_id=b, settings=settings), str(b))
        promo = "Soldes d'hiver : -30 % ce week-end."
        await self.send(self.brand, PAUL, body=promo, purpose=Purpose.MARKETING)
        await self.wire.event("Conversation.MessageBlocked")  # no opt-in yet
        grant = cmd.GrantConsent(brand_id=b, contact_id=paul, purpose=Purpose.MARKETING)
        await self.command(grant, str(paul))
        await self.wire.event("Consent.ConsentGranted")
        clock = core.clock
        try:
            core.clock = lambda: SATURDAY_NIGHT_IN_PARIS
            await self.send(self.brand, PAUL, body=promo, purpose=Purpose.MARKETING)
            deferred = await self.wire.event("Conversation.MessageDeferred")
            core.clock = lambda: MONDAY_MORNING_IN_PARIS
            release = cmd.ReleaseDeferredMessage(
                conversation_id=deferred["aggregate_id"],
                message_id=deferred["data"]["message_id"],
            )
            await self.inbound(release, key=deferred["aggregate_id"])
            await self.wire.event(
                "Conversation.MessageQueued",
                lambda d: d["message_id"] == deferred["data"]["message_id"],
            )
        finally:
            core.clock = clock
        sandbox = self.runtime.provider
        await sandbox.inject_inbound(sender=PAUL, recipient=BRAND_SMS, body="Stop, who is this?")
        await self.wire.event("Conversation.ConsentRequestRead")
        revoke = cmd.RevokeConsent(brand_id=b, contact_id=paul, purpose=Purpose.SERVICE)
        await self.command(revoke, str(paul))
        await self.wire.event("Consent.ConsentRevoked", lambda d: d["purpose"] == "service")

    async def receipt_overdue(self) -> None:
        """A sent SMS whose receipt never comes expires at its deadline."""
        self.runtime.provider.set_outcome(ROSE, SandboxOutcome.SILENT, Channel.SMS)
        await self.send(self.brand, ROSE, body="Votre retrait est prêt.", channel=Channel.SMS)
        queued = await self.queued(ROSE, Channel.SMS)
        message = queued["data"]["message_id"]
        await self.wire.event("Conversation.MessageSent", lambda d: d["message_id"] == message)
        core = self.runtime.core
        clock = core.clock
        try:
            core.clock = lambda: clock() + timedelta(days=3)
            overdue = cmd.EnforceReceiptDeadline(
                conversation_id=queued["aggregate_id"], message_id=message
            )
            await self.inbound(overdue, key=queued["aggregate_id"])
            await self.wire.event("Conversation.ReceiptOverdue")
        finally:
            core.clock = clock

    async def campaign(self) -> None:
        """A campaign drafted and run to its end through the API (a CRM filter nobody
        matches: it starts and finishes at once)."""
        key = self.runtime.core.api_keys.issue(self.brand.id, "wire")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime=self.runtime)),
            base_url="http://chainon.test",
            headers={"Authorization": f"Bearer {key}"},
        ) as api:
            draft = {
                "name": "Soldes",
                "template": "Soldes d'hiver, {{ first_name }} ! STOP SMS",
                "audience": "filter",
                "filter": {"tags": ["personne"]},
            }
            created = await api.post("/v1/campaigns", json=draft)
            assert created.status_code == 201, created.text
            campaign = created.json()["id"]
            scheduled = await api.post(f"/v1/campaigns/{campaign}/schedule", json={})
            assert scheduled.status_code == 200, scheduled.text
        await self.wire.event("Campaign.Drafted")
        await self.wire.event("Campaign.Finished")

    async def bot_dialogues(self) -> None:
        """A flow started by its keyword, a wrong answer, a right one; one started by the
        API that times out and hands off; one an opt-out stops."""
        b, sandbox = self.brand.id, self.runtime.provider
        await self.runtime.call(publish_flow, self.runtime.core, b, BOT_FLOW)
        for words in ("BOT", "9", "1"):  # one key, so in this order
            await sandbox.inject_inbound(sender=NOE, recipient=BRAND_SMS, body=words)
        completed = await self.wire.event("Bot.FlowCompleted")
        await self.wire.event("Bot.AnswerRejected")
        conversation = str((await self.wire.event("Bot.Opened"))["data"]["conversation_id"])
        assert completed["aggregate_type"] == "Bot"
        start = cmd.StartFlow(brand_id=b, conversation_id=conversation, flow="wire")
        await self.command(start, key=conversation)
        await self.wire.event("Bot.FlowStarted", lambda d: d["trigger"] == "api")
        expire = cmd.ExpireDialogue(conversation_id=conversation, now=True)
        await self.inbound(expire, key=conversation)
        await self.wire.event("Bot.FlowTimedOut")
        await self.wire.event("Bot.HandedOff", lambda d: d["reason"] == "timeout")
        await self.command(start, key=conversation)
        await self.wire.event("Bot.QuestionAsked", lambda d: d["attempt"] == 0 and d["run"] == 3)
        await sandbox.inject_inbound(sender=NOE, recipient=BRAND_SMS, body="STOP")
        await self.wire.event("Bot.FlowStopped")


class WireContract:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        raise NotImplementedError("each backend's subclass gives the runtime's settings")

    @pytest.fixture
    def smsc(self, tmp_path: Path) -> Iterator[Smsc]:
        with Smsc(
            system_id="chainon", password="secret", directory=tmp_path / "smsc", pdu_log=False
        ) as simulator:
            yield simulator

    @pytest.fixture
    async def runtime(self, settings: Settings, smsc: Smsc) -> AsyncIterator[Runtime]:
        link = SmppLinkSettings(
            name="main", host="127.0.0.1", port=smsc.port, system_id="chainon", password="secret"
        )  # type: ignore[arg-type]
        runtime = Runtime(settings.model_copy(update={"smpp_links": [link]}))
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()
            runtime.close()

    async def test_every_record_on_every_topic_matches_the_document(
        self, runtime: Runtime, smsc: Smsc
    ) -> None:
        doc = document(runtime.topics)
        consumer = runtime.bus.consumer(f"wire-{uuid.uuid4().hex[:8]}", runtime.topics.all)
        await consumer.start()
        wire, stopping = Wire(consumer), asyncio.Event()
        following = asyncio.create_task(wire.follow(stopping))
        try:
            await Story(runtime, wire, smsc).tell()
        finally:
            stopping.set()
            await following
            await consumer.stop()

        ours = [r for r in wire.records if r.value != POISON]
        assert len(ours) == len(wire.records) - 1
        conformance = Conformance(doc)
        assert [p for record in ours for p in conformance.problems(record)] == []
        seen: dict[str, set[str]] = {}
        for record in ours:
            seen.setdefault(record.topic, set()).add(json.loads(record.value).get("type", "?"))
        topics = runtime.topics
        assert seen[topics.events] == set(event_messages(doc))
        assert seen[topics.commands] == tags(COMMANDS)
        assert seen[topics.inbound] == tags(INBOUND)
        assert seen[topics.outbound] == {"OutboundMessage", "RevokeMessage"}
        assert seen[Topics.dlq(topics.commands)] == {"DeadLetter"}
        (letter,) = [json.loads(r.value) for r in ours if r.topic == Topics.dlq(topics.commands)]
        assert letter["value"] == POISON.decode()


class TestEmbeddedLog(WireContract):
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return make_settings(StoreKind.SQLITE, tmp_path)


@pytest.mark.postgres
class TestKafka(WireContract):
    @pytest.fixture
    def settings(self, tmp_path: Path, postgres_dsn: str, kafka_bootstrap: str) -> Settings:
        return make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn).model_copy(
            update={
                "bus": BusKind.KAFKA,
                "kafka_bootstrap": kafka_bootstrap,
                "topic_prefix": f"wire{uuid.uuid4().hex[:8]}",
            }
        )
