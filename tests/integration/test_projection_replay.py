"""Incremental projection equals a rebuild from scratch, whatever the history.

Hypothesis drives random command sequences through the core; the facts are then fed to
every projection in random batches, some batches twice (as a crashed runner or Kafka
would), in an order Kafka may deliver (each aggregate's facts in order, aggregates mixed),
and each live model must equal a rebuild in the store's order. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.errors import DomainError
from chainon.domain.message_status import MessageStatus
from chainon.event_store import store_env
from chainon.projections.catalogue import all_projections
from chainon.projections.facts import facts_of
from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.rebuild import verify
from chainon.settings import StoreKind
from chainon.views import views_of
from tests.conftest import BRAND_SMS, make_settings

WHO = st.integers(min_value=0, max_value=3)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("inbound"), WHO, st.sampled_from(["sms", "email"])),
        st.tuples(st.just("reply"), WHO),
        st.tuples(st.just("assign"), WHO, st.sampled_from([None, "camille", "hugo"])),
        st.tuples(st.just("claim"), WHO, st.sampled_from(["camille", "hugo"])),
        st.tuples(st.just("tag"), WHO, st.sampled_from(["vip", "retard"]), st.booleans()),
        st.tuples(st.just("resolve"), WHO),
        st.tuples(st.just("reopen"), WHO),
        st.tuples(st.just("rename"), WHO, st.sampled_from(["Léa", "Hugo", None])),
        st.tuples(
            st.just("attribute"),
            WHO,
            st.sampled_from(["tier", "city"]),
            st.sampled_from(["gold", "Lyon", None]),
        ),
        st.tuples(st.just("outcome"), WHO, st.sampled_from(["delivered", "failed", "read"])),
        st.tuples(st.just("priority"), WHO, st.integers(min_value=0, max_value=3)),
        st.tuples(st.just("sla"), st.integers(min_value=1, max_value=120)),
        st.tuples(
            st.just("consent"),
            WHO,
            st.booleans(),
            st.sampled_from(["marketing", "service"]),
            st.sampled_from([None, "sms", "rcs"]),
        ),
    ),
    min_size=1,
    max_size=25,
)
BATCHES = st.lists(st.tuples(st.integers(min_value=1, max_value=12), st.booleans()), min_size=1)


def phone(who: int) -> str:
    return f"+3361234567{who}"


def email(who: int) -> str:
    return f"client{who}@example.fr"


class History:
    """Plays operations against the core, as users would, ignoring what it refuses."""

    def __init__(self, core: Core) -> None:
        self.core = core
        brand = core.register_brand(
            slug="maison",
            name="Maison",
            senders=[(Channel.SMS, BRAND_SMS), (Channel.EMAIL, "bonjour@maison.example")],
        )
        self.brand = brand.id
        self.sent = 0

    def conversation(self, who: int) -> Any:
        from chainon.domain.addresses import parse_phone

        contact = self.core.find_contact(self.brand, parse_phone(phone(who)))
        return None if contact is None else contact.current_conversation_id

    def play(self, op: tuple[Any, ...]) -> None:
        kind, *args = op
        with contextlib.suppress(DomainError):  # a refusal records nothing: history too
            getattr(self, kind)(*args)

    def inbound(self, who: int, channel: str) -> None:
        sender = phone(who) if channel == "sms" else email(who)
        recipient = BRAND_SMS if channel == "sms" else "bonjour@maison.example"
        self.sent += 1
        self.core.handle(
            cmd.ReceiveMessage(
                provider="p",
                provider_message_id=str(self.sent),
                channel=Channel(channel),
                sender=sender,
                recipient=recipient,
                body=f"m{self.sent}",
            )
        )

    def _on(self, who: int, command: type[cmd.Command], **fields: Any) -> None:
        cid = self.conversation(who)
        if cid is not None:
            self.core.handle(command(brand_id=self.brand, conversation_id=cid, **fields))

    def reply(self, who: int) -> None:
        self._on(who, cmd.Reply, body="Bonjour !")

    def assign(self, who: int, agent: str | None) -> None:
        self._on(who, cmd.AssignConversation, agent=agent)

    def claim(self, who: int, agent: str) -> None:
        self._on(who, cmd.ClaimConversation, agent=agent)

    def tag(self, who: int, tag: str, add: bool) -> None:
        self._on(who, cmd.TagConversation, **({"add": [tag]} if add else {"remove": [tag]}))

    def resolve(self, who: int) -> None:
        self._on(who, cmd.ResolveConversation)

    def reopen(self, who: int) -> None:
        self._on(who, cmd.ReopenConversation)

    def priority(self, who: int, value: int) -> None:
        self._on(who, cmd.PrioritizeConversation, priority=value)

    def sla(self, minutes: int) -> None:
        self.core.handle(cmd.ConfigureQueue(brand_id=self.brand, first_response_minutes=minutes))

    def consent(self, who: int, grant: bool, purpose: str, channel: str | None) -> None:
        from chainon.domain.addresses import parse_phone

        contact = self.core.find_contact(self.brand, parse_phone(phone(who)))
        if contact is not None:
            change = cmd.GrantConsent if grant else cmd.RevokeConsent
            self.core.handle(
                change(
                    brand_id=self.brand,
                    contact_id=contact.id,
                    purpose=Purpose(purpose),
                    channel=Channel(channel) if channel else None,
                )
            )

    def rename(self, who: int, name: str | None) -> None:
        self._contact(who, name=name)

    def attribute(self, who: int, key: str, value: str | None) -> None:
        self._contact(who, attributes={key: value})

    def _contact(self, who: int, **fields: Any) -> None:
        from chainon.domain.addresses import parse_phone

        contact = self.core.find_contact(self.brand, parse_phone(phone(who)))
        if contact is not None:
            self.core.handle(
                cmd.UpdateContact(brand_id=self.brand, contact_id=contact.id, **fields)
            )

    def outcome(self, who: int, status: str) -> None:
        from chainon.domain.conversation import Conversation

        cid = self.conversation(who)
        if cid is None:
            return
        conversation = self.core.get(Conversation, cid)
        for message in conversation.messages.values():
            if message.direction == "outbound" and message.provider_message_id is None:
                self.sent += 1
                pid = f"out-{self.sent}"
                self.core.handle(
                    cmd.RecordSent(
                        conversation_id=cid,
                        message_id=message.id,
                        provider="p",
                        provider_message_id=pid,
                    )
                )
                read = status == "read"  # an RCS read receipt: delivered, and read
                self.core.handle(
                    cmd.RecordReceipt(
                        provider="p",
                        provider_message_id=pid,
                        status=MessageStatus.DELIVERED if read else MessageStatus(status),
                        reason="ERR 34",
                        read=read,
                    )
                )
                return


def interleave(facts: list[Any], chooser: random.Random) -> list[Any]:
    """Another order Kafka may deliver: each aggregate's facts in order, aggregates mixed."""
    queues: dict[str, list[Any]] = {}
    for fact in facts:
        queues.setdefault(fact.aggregate_id, []).append(fact)
    mixed = []
    while queues:
        key = chooser.choice(sorted(queues))
        mixed.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return mixed


def check(
    core: Core,
    store: ReadModelStore,
    operations: list[Any],
    batches: list[Any],
    chooser: random.Random,
) -> None:
    history = History(core)
    for op in operations:
        history.play(op)
    views = views_of(core, store, all_projections())
    notifications = core.recorder.select_notifications(start=1, limit=100_000)
    facts = interleave(facts_of(core.mapper.to_domain_event, notifications), chooser)
    start, previous = 0, []
    steps = iter(batches * (len(facts) + 1))
    while start < len(facts):
        size, replay = next(steps)
        chunk = facts[start : start + size]
        if replay and previous:
            views.apply(previous + chunk)  # a crashed runner's last batch, again
        views.apply(chunk)
        previous, start = chunk, start + size
    for name in views.projections:
        assert verify(views, name) == [], name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS, BATCHES, st.randoms(use_true_random=False))
def test_incremental_equals_rebuild_on_sqlite(
    operations: list[Any], batches: list[Any], chooser: random.Random
) -> None:
    from chainon.projections.sqlite import SQLiteReadModels

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        core = Core(store_env(make_settings(StoreKind.SQLITE, path)))
        store = SQLiteReadModels(path / "views.sqlite3")
        try:
            check(core, store, operations, batches, chooser)
        finally:
            store.close()
            core.close()


@pytest.mark.postgres
def test_incremental_equals_rebuild_on_postgres(postgres_dsn: str) -> None:
    from chainon.projections.postgres import PostgresReadModels

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(OPERATIONS, BATCHES, st.randoms(use_true_random=False))
    def run(operations: list[Any], batches: list[Any], chooser: random.Random) -> None:
        with tempfile.TemporaryDirectory() as directory:
            chosen = make_settings(StoreKind.POSTGRES, Path(directory), postgres_dsn)
            core = Core(store_env(chosen))
            store = PostgresReadModels(chosen.postgres_dsn, chosen.postgres_schema, pool_size=2)
            try:
                check(core, store, operations, batches, chooser)
            finally:
                store.close()
                core.close()

    run()
