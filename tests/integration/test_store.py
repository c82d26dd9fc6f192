"""The same flows on every event store: one contract, one subclass per backend.

Each test counts what was recorded, so a lost or doubled message fails it.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from chainon import messagebus
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.errors import Conflict, NotFound
from chainon.domain.message_status import MessageStatus
from chainon.domain.refusal import RefusedInbound
from chainon.event_store import store_env
from chainon.messagebus import IdempotencyClaim
from chainon.projections.conversation_list import ConversationFilter, ConversationSummary
from chainon.projections.conversation_list import search as list_conversations
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, CONSUMER, BrandWithKey, make_settings, register

T = TypeVar("T")


def inbound(
    provider_id: str, body: str = "Bonjour", sender: str = CONSUMER, **extra: Any
) -> cmd.ReceiveMessage:
    return cmd.ReceiveMessage(
        provider="sandbox",
        provider_message_id=provider_id,
        channel=extra.pop("channel", Channel.SMS),
        sender=sender,
        recipient=extra.pop("recipient", BRAND_SMS),
        body=body,
    )


def in_threads(*calls: Callable[[], T]) -> list[T]:
    """Runs the calls at the same moment on their own threads, as two workers would."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # returned so the test can look at it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


class StoreContract:
    """Every backend must pass these. Subclasses provide ``settings``."""

    @pytest.fixture
    def settings(self) -> Settings:
        raise NotImplementedError

    @pytest.fixture
    async def runtime(self, settings: Settings) -> AsyncIterator[Runtime]:
        runtime = Runtime(settings)
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()
            runtime.close()

    @pytest.fixture
    def brand(self, runtime: Runtime) -> BrandWithKey:
        return register(runtime)

    def second_core(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> Core:
        """Another worker on the same store, with its own connections and no shared state."""
        options: dict[str, Any] = {"default_region": "FR"}
        if clock is not None:
            options["clock"] = clock
        return Core({**store_env(settings), "SINGLE_ROW_TRACKING": "y"}, **options)

    # Inbound

    async def test_an_inbound_message_opens_a_conversation_for_a_new_contact(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        outcome = runtime.core.handle(inbound("p-1", sender="06 12 34 56 78"))
        assert outcome.changed
        assert not outcome.duplicate
        conversation = runtime.core.conversation_of(brand.id, outcome.conversation_id)
        (message,) = conversation.messages.values()
        assert (message.sender, message.body, message.status) == (
            CONSUMER,
            "Bonjour",
            MessageStatus.RECEIVED,
        )
        contact = runtime.core.contact_of(brand.id, conversation.contact_id)
        assert [a.value for a in contact.addresses] == [CONSUMER]
        assert contact.last_channel is Channel.SMS

    async def test_a_provider_retry_is_recorded_once(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        first = runtime.core.handle(inbound("p-1"))
        again = runtime.core.handle(inbound("p-1"))
        assert again.duplicate
        assert not again.changed
        assert again.conversation_id == first.conversation_id
        assert again.message_id == first.message_id
        conversation = runtime.core.get(Conversation, first.conversation_id)
        assert len(conversation.messages) == 1

    async def test_two_workers_delivering_the_same_record_at_once_record_it_once(
        self, runtime: Runtime, brand: BrandWithKey, settings: Settings
    ) -> None:
        other = self.second_core(settings)
        try:
            results = in_threads(
                lambda: runtime.core.handle(inbound("p-race")),
                lambda: other.handle(inbound("p-race")),
            )
        finally:
            other.close()
        assert all(isinstance(r, cmd.Outcome) for r in results), results
        assert sorted(r.duplicate for r in results) == [False, True]
        assert len({r.conversation_id for r in results}) == 1
        conversation = runtime.core.get(Conversation, results[0].conversation_id)
        assert len(conversation.messages) == 1

    async def test_two_first_messages_at_once_open_one_conversation(
        self, runtime: Runtime, brand: BrandWithKey, settings: Settings
    ) -> None:
        other = self.second_core(settings)
        try:
            results = in_threads(
                lambda: runtime.core.handle(inbound("p-a", "Bonjour")),
                lambda: other.handle(inbound("p-b", "Il y a quelqu'un ?")),
            )
        finally:
            other.close()
        assert all(isinstance(r, cmd.Outcome) and r.changed for r in results), results
        assert len({r.conversation_id for r in results}) == 1
        assert len({r.contact_id for r in results}) == 1
        conversation = runtime.core.get(Conversation, results[0].conversation_id)
        assert sorted(m.body for m in conversation.messages.values()) == [
            "Bonjour",
            "Il y a quelqu'un ?",
        ]
        contact = runtime.core.get(Contact, conversation.contact_id)
        assert contact.conversation_count == 1

    async def test_an_unknown_destination_is_refused_and_recorded_with_its_reason(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        outcome = runtime.core.handle(inbound("p-lost", recipient="+33939999999"))
        assert outcome.refused == "no brand owns the sms address +33939999999"
        assert outcome.conversation_id is None
        again = runtime.core.handle(inbound("p-lost", recipient="+33939999999"))
        assert again.duplicate
        assert again.refused == outcome.refused
        notifications = runtime.core.recorder.select_notifications(
            start=1, limit=100, topics=[RefusedInbound.InboundRefused.TOPIC]
        )
        assert len(notifications) == 1
        refusal = runtime.core.get(RefusedInbound, notifications[0].originator_id)
        assert (refusal.body, refusal.recipient) == ("Bonjour", "+33939999999")

    async def test_a_resolved_conversation_reopens_within_the_window_and_not_after(
        self, runtime: Runtime, brand: BrandWithKey, settings: Settings
    ) -> None:
        now = [datetime(2026, 5, 4, 10, 0, tzinfo=UTC)]
        core = self.second_core(settings, clock=lambda: now[0])
        try:
            first = core.handle(inbound("p-1"))
            core.handle(
                cmd.ResolveConversation(brand_id=brand.id, conversation_id=first.conversation_id)
            )
            now[0] += timedelta(days=6)
            reopened = core.handle(inbound("p-2"))
            assert reopened.conversation_id == first.conversation_id
            assert not core.get(Conversation, first.conversation_id).resolved
            core.handle(
                cmd.ResolveConversation(brand_id=brand.id, conversation_id=first.conversation_id)
            )
            now[0] += timedelta(days=7, seconds=1)
            later = core.handle(inbound("p-3"))
            assert later.conversation_id != first.conversation_id
            new = core.get(Conversation, later.conversation_id)
            assert (new.number, len(new.messages)) == (2, 1)
            assert core.get(Conversation, first.conversation_id).resolved
        finally:
            core.close()

    # Outbound

    async def test_a_send_is_dispatched_and_its_receipt_recorded(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        outcome = await runtime.handle(
            cmd.SendMessage(brand_id=brand.id, to="06 12 34 56 78", body="Votre colis arrive")
        )
        assert outcome.channel is Channel.SMS

        def status() -> MessageStatus:
            conversation = runtime.core.get(Conversation, outcome.conversation_id)
            return conversation.message(outcome.message_id).status

        await until(lambda: status() is MessageStatus.DELIVERED)
        message = runtime.core.get(Conversation, outcome.conversation_id).message(
            outcome.message_id
        )
        assert [s for s, _ in message.history] == [
            MessageStatus.QUEUED,
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
        ]
        assert len(runtime.provider.sent) == 1

    async def test_a_receipt_before_its_send_is_kept_and_applied_with_the_send(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        """On the bus a receipt can overtake its RecordSent (same key, earlier offset):
        it is kept, not retried in place behind a send that waits after it."""
        core = runtime.core
        queued = core.handle(
            cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Le code est 4242")
        )
        receipt = cmd.RecordReceipt(
            provider="smpp:main", provider_message_id="A1", status=MessageStatus.DELIVERED
        )
        first, again = core.handle(receipt), core.handle(receipt)
        assert (first.kept, first.changed) == (True, False)
        assert again.duplicate
        sent = core.handle(
            cmd.RecordSent(
                conversation_id=queued.conversation_id,
                message_id=queued.message_id,
                provider="smpp:main",
                provider_message_id="A1",
            )
        )
        assert sent.status is MessageStatus.DELIVERED
        message = core.get(Conversation, queued.conversation_id).message(queued.message_id)
        assert [s for s, _ in message.history] == [
            MessageStatus.QUEUED,
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
        ]
        late = core.handle(receipt)  # now the send is known: an ordinary duplicate
        assert not late.changed
        assert not late.kept

    async def test_a_read_receipt_before_its_send_is_kept_read_and_all(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        core = runtime.core
        queued = core.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Bonjour"))
        delivered, read = (
            cmd.RecordReceipt(
                provider="rcs", provider_message_id="R1", status=MessageStatus.DELIVERED, read=r
            )
            for r in (False, True)
        )
        assert core.handle(delivered).kept
        assert core.handle(read).kept  # the same status, but now read as well
        assert core.handle(read).duplicate
        core.handle(
            cmd.RecordSent(
                conversation_id=queued.conversation_id,
                message_id=queued.message_id,
                provider="rcs",
                provider_message_id="R1",
            )
        )
        message = core.get(Conversation, queued.conversation_id).message(queued.message_id)
        assert message.status is MessageStatus.DELIVERED
        assert message.read_at is not None

    async def test_a_receipt_naming_the_id_in_another_spelling_finds_its_message(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        """After a restart the SMPP link no longer remembers that the SMSC's decimal receipt
        id is its hex submit id: the core's durable index, tried in each spelling, does."""
        core = runtime.core
        queued = core.handle(cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Bonjour"))
        core.handle(
            cmd.RecordSent(
                conversation_id=queued.conversation_id,
                message_id=queued.message_id,
                provider="smpp:main",
                provider_message_id="E5F2D7",
            )
        )
        outcome = core.handle(
            cmd.RecordReceipt(
                provider="smpp:main",
                provider_message_id="15069911",
                alternative_ids=["e5f2d7", "E5F2D7"],
                status=MessageStatus.DELIVERED,
            )
        )
        assert outcome.changed
        assert outcome.message_id == queued.message_id
        message = core.get(Conversation, queued.conversation_id).message(queued.message_id)
        assert message.status is MessageStatus.DELIVERED

    async def test_a_batch_commits_together_and_a_refusal_spares_its_neighbours(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        core = runtime.core
        stranger = cmd.Reply(brand_id=brand.id, conversation_id=uuid4(), body="Bonjour ?")
        results = core.handle_many(
            [
                (inbound("b-1", "Première"), None),
                (inbound("b-1", "Première"), None),  # the provider's retry, in the same batch
                (stranger, None),
                (inbound("b-2", "Deuxième"), None),
            ]
        )
        first, repeat, refused, second = results
        assert isinstance(refused, NotFound)
        assert isinstance(first, cmd.Outcome)
        assert isinstance(repeat, cmd.Outcome)
        assert isinstance(second, cmd.Outcome)
        assert repeat.duplicate
        assert not second.duplicate
        assert first.conversation_id == second.conversation_id
        conversation = core.get(Conversation, first.conversation_id)  # type: ignore[arg-type]
        assert [m.body for m in conversation.messages.values()] == ["Première", "Deuxième"]

    async def test_a_command_that_breaks_its_handler_spares_its_batch(
        self, runtime: Runtime, brand: BrandWithKey, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        core = runtime.core

        def broken(loader: object, command: cmd.Command, now: datetime) -> Any:
            raise ValueError("a bug in one handler")

        monkeypatch.setitem(messagebus.HANDLERS, cmd.TagConversation, broken)
        tag = cmd.TagConversation(brand_id=brand.id, conversation_id=uuid4(), add=["vip"])
        first, failed, second = core.handle_many(
            [(inbound("k-1", "Un"), None), (tag, None), (inbound("k-2", "Deux"), None)]
        )
        assert isinstance(failed, ValueError)
        assert isinstance(first, cmd.Outcome)
        assert isinstance(second, cmd.Outcome)
        conversation = core.get(Conversation, first.conversation_id)  # type: ignore[arg-type]
        assert [m.body for m in conversation.messages.values()] == ["Un", "Deux"]

    async def test_concurrent_callers_share_transactions_and_each_gets_its_outcome(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        outcomes = await asyncio.gather(
            *(
                runtime.handle(inbound(f"c-{i}", f"n°{i}", sender=f"+3361100{i:04d}"))
                for i in range(60)
            )
        )
        assert len({o.conversation_id for o in outcomes}) == 60
        assert all(o.position is not None for o in outcomes)
        # Callers that queued behind a transaction went in together: fewer commits than calls.
        assert len({o.position for o in outcomes}) < 60
        for i, outcome in enumerate(outcomes):
            conversation = runtime.core.get(Conversation, outcome.conversation_id)  # type: ignore[arg-type]
            assert [m.body for m in conversation.messages.values()] == [f"n°{i}"]

    async def test_failing_and_silent_providers_leave_the_right_status(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        from chainon.adapters.channels.sandbox import SandboxOutcome

        runtime.provider.set_outcome("+33612345679", SandboxOutcome.FAIL)
        runtime.provider.set_outcome("+33612345670", SandboxOutcome.SILENT)
        failing = await runtime.handle(
            cmd.SendMessage(brand_id=brand.id, to="+33612345679", body="a")
        )
        silent = await runtime.handle(
            cmd.SendMessage(brand_id=brand.id, to="+33612345670", body="b")
        )

        def message(o: cmd.Outcome) -> Any:
            return runtime.core.get(Conversation, o.conversation_id).message(o.message_id)

        await until(lambda: message(failing).status is MessageStatus.FAILED)
        assert message(failing).reason == "sandbox: told to fail"
        await until(lambda: message(silent).status is MessageStatus.SENT)
        await asyncio.sleep(0.3)
        assert message(silent).status is MessageStatus.SENT

    async def test_an_idempotency_key_sends_once_even_when_raced(
        self, runtime: Runtime, brand: BrandWithKey, settings: Settings
    ) -> None:
        send = cmd.SendMessage(brand_id=brand.id, to=CONSUMER, body="Une seule fois")
        claim = IdempotencyClaim(brand.id, "order-42", "fingerprint-1")
        other = self.second_core(settings)
        try:
            results = in_threads(
                lambda: runtime.core.handle(send, idempotency=claim),
                lambda: other.handle(send, idempotency=claim),
            )
        finally:
            other.close()
        assert all(isinstance(r, cmd.Outcome) for r in results), results
        assert len({r.message_id for r in results}) == 1
        conversation = runtime.core.get(Conversation, results[0].conversation_id)
        assert [m.body for m in conversation.messages.values()] == ["Une seule fois"]

    # Brands and contacts

    async def test_another_brands_conversation_is_not_found(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        other = register(runtime, slug="autre-marque", sms="+33939000002")
        outcome = runtime.core.handle(inbound("p-1"))
        with pytest.raises(NotFound):
            runtime.core.conversation_of(other.id, outcome.conversation_id)
        with pytest.raises(NotFound):
            runtime.core.contact_of(other.id, outcome.contact_id)

    async def test_a_sender_address_belongs_to_one_brand(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        with pytest.raises(Conflict) as taken:
            register(runtime, slug="copieur", sms="09 39 00 00 01")
        assert taken.value.field == "senders"

    async def test_one_contact_two_addresses_one_conversation(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        first = runtime.core.handle(inbound("p-1"))
        runtime.core.handle(
            cmd.AddContactAddress(
                brand_id=brand.id, contact_id=first.contact_id, address="Camille@Example.FR"
            )
        )
        by_mail = runtime.core.handle(
            inbound(
                "mail-1",
                sender="camille@example.fr",
                channel=Channel.EMAIL,
                recipient="bonjour@maison-lumiere.example",
            )
        )
        assert (by_mail.contact_id, by_mail.conversation_id) == (
            first.contact_id,
            first.conversation_id,
        )
        conversation = runtime.core.get(Conversation, first.conversation_id)
        assert [m.channel for m in conversation.messages.values()] == [Channel.SMS, Channel.EMAIL]

    # The conversation list

    async def test_the_list_filters_and_pages_newest_first(
        self, runtime: Runtime, brand: BrandWithKey
    ) -> None:
        outcomes = [
            runtime.core.handle(inbound(f"p-{i}", sender=f"+3361234567{i}")) for i in range(5)
        ]
        runtime.core.handle(
            cmd.AssignConversation(
                brand_id=brand.id, conversation_id=outcomes[1].conversation_id, agent="camille"
            )
        )
        runtime.core.handle(
            cmd.TagConversation(
                brand_id=brand.id, conversation_id=outcomes[2].conversation_id, add=["VIP"]
            )
        )
        last = runtime.core.handle(
            cmd.ResolveConversation(brand_id=brand.id, conversation_id=outcomes[3].conversation_id)
        )
        assert await runtime.caught_up(last.position or 0, 5)

        def search(where: ConversationFilter) -> list[ConversationSummary]:
            return list_conversations(runtime.views.store, where)

        everything = search(ConversationFilter(brand_id=brand.id))
        assert next(r.conversation_id for r in everything) == outcomes[3].conversation_id
        assert len(everything) == 5
        assert [
            r.conversation_id
            for r in search(ConversationFilter(brand_id=brand.id, agent="camille"))
        ] == [outcomes[1].conversation_id]
        assert [r.tags for r in search(ConversationFilter(brand_id=brand.id, tag="vip"))] == [
            ("vip",)
        ]
        assert len(search(ConversationFilter(brand_id=brand.id, status="open"))) == 4
        pages, before = [], None
        while True:
            page = search(ConversationFilter(brand_id=brand.id, limit=2, before=before))
            if not page:
                break
            pages.append([r.conversation_id for r in page])
            before = page[-1].cursor
        assert [len(p) for p in pages] == [2, 2, 1]
        assert functools.reduce(operator.iadd, pages, []) == [r.conversation_id for r in everything]


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return make_settings(StoreKind.SQLITE, tmp_path)


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def settings(self, tmp_path: Path, postgres_dsn: str) -> Settings:
        return make_settings(StoreKind.POSTGRES, tmp_path, postgres_dsn)
