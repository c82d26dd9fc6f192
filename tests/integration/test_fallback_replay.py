"""Incremental equals a rebuild for histories with RCS fallbacks, on SQLite.

``test_projection_replay`` plays SMS and email histories; this plays RCS sends with their
fallback plans, deadlines enforced, revocations answered, failures and contacts known not
to take RCS, so that the pending deadlines and the fallback counts are checked the same
way: random batches, some twice, aggregates interleaved as Kafka may deliver them.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.message_status import MessageStatus
from chainon.event_store import store_env
from chainon.projections.catalogue import all_projections
from chainon.projections.facts import facts_of
from chainon.projections.fallback_deadlines import pending
from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.rebuild import verify
from chainon.settings import StoreKind
from chainon.views import views_of
from tests.conftest import BRAND_SMS, make_settings
from tests.integration.test_projection_replay import BATCHES, History, interleave, phone

WHO = st.integers(min_value=0, max_value=1)  # few contacts: steps meet the same message
# Each ending of a plan as one step, so that every one shows up in a short history.
FLOWS: dict[str, list[tuple[str, ...]]] = {
    "delivered": [("outcome", "delivered")],
    "receipt_failed": [("outcome", "failed")],
    "send_failed": [("send_failure", "rejected")],
    "not_capable": [("send_failure", "not_capable")],
    "revoked": [("deadline",), ("revocation", "revoked")],
    "not_revoked": [("deadline",), ("revocation", "failed")],
    "delivered_in_the_race": [("deadline",), ("outcome", "delivered"), ("revocation", "revoked")],
    "pending": [],
}
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("rcs_flow"), WHO, st.sampled_from(sorted(FLOWS))),
        st.tuples(st.just("rcs_send"), WHO, st.integers(min_value=60, max_value=600)),
        st.tuples(st.just("deadline"), WHO),
        st.tuples(st.just("revocation"), WHO, st.sampled_from(["revoked", "failed"])),
        st.tuples(st.just("outcome"), WHO, st.sampled_from(["delivered", "failed"])),
        st.tuples(st.just("send_failure"), WHO, st.sampled_from(["rejected", "not_capable"])),
        st.tuples(st.just("not_capable"), WHO),
        st.tuples(st.just("inbound"), WHO, st.just("sms")),
        st.tuples(st.just("resolve"), WHO),
    ),
    min_size=1,
    max_size=20,
)


class FallbackHistory(History):
    """The brand also has an RCS agent, so its sends to a phone go by RCS with a plan."""

    def __init__(self, core: Core) -> None:
        self.core = core
        brand = core.register_brand(
            slug="maison",
            name="Maison",
            senders=[(Channel.RCS, "maison-agent"), (Channel.SMS, BRAND_SMS)],
        )
        self.brand = brand.id
        self.sent = 0

    def _rcs(self, who: int) -> tuple[UUID, UUID] | None:
        """The conversation and its latest RCS message, if any."""
        cid = self.conversation(who)
        if cid is None:
            return None
        conversation = self.core.get(Conversation, cid)
        rcs = [m for m in conversation.messages.values() if m.channel is Channel.RCS]
        return (cid, rcs[-1].id) if rcs else None

    def rcs_flow(self, who: int, flow: str) -> None:
        self.rcs_send(who, 60)
        for kind, *args in FLOWS[flow]:
            self.play((kind, who, *args))

    def rcs_send(self, who: int, after: int) -> None:
        self.core.handle(
            cmd.SendMessage(
                brand_id=self.brand, to=phone(who), body="Votre colis", fallback_after_seconds=after
            )
        )

    def deadline(self, who: int) -> None:
        found = self._rcs(who)
        if found is not None:  # the deadline is minutes away: an operator's "now"
            cid, mid = found
            self.core.handle(
                cmd.EnforceFallbackDeadline(conversation_id=cid, message_id=mid, now=True)
            )

    def revocation(self, who: int, result: Any) -> None:
        found = self._rcs(who)
        if found is not None:
            cid, mid = found
            self.core.handle(
                cmd.RecordRevocation(conversation_id=cid, message_id=mid, result=result)
            )

    def outcome(self, who: int, status: str) -> None:
        found = self._rcs(who)
        if found is None:
            return
        cid, mid = found
        self.sent += 1
        pid = f"rcs-{self.sent}"
        sent = cmd.RecordSent(
            conversation_id=cid, message_id=mid, provider="p", provider_message_id=pid
        )
        self.core.handle(sent)
        self.core.handle(
            cmd.RecordReceipt(
                provider="p", provider_message_id=pid, status=MessageStatus(status), reason="ERR"
            )
        )

    def send_failure(self, who: int, reason: str) -> None:
        found = self._rcs(who)
        if found is not None:
            cid, mid = found
            self.core.handle(
                cmd.RecordSendFailure(conversation_id=cid, message_id=mid, reason=reason)
            )

    def not_capable(self, who: int) -> None:
        cid = self.conversation(who)
        if cid is not None:
            self.core.handle(cmd.RecordCapability(conversation_id=cid, capable=False))


def check(
    core: Core,
    store: ReadModelStore,
    operations: list[Any],
    batches: list[Any],
    chooser: random.Random,
) -> None:
    history = FallbackHistory(core)
    for op in operations:
        history.play(op)
    views = views_of(core, store, all_projections())
    notifications = core.recorder.select_notifications(start=1, limit=100_000)
    facts = interleave(facts_of(core.mapper.to_domain_event, notifications), chooser)
    start, previous = 0, list[Any]()
    steps = iter(batches * (len(facts) + 1))
    while start < len(facts):
        size, replay = next(steps)
        chunk = facts[start : start + size]
        if replay and previous:
            views.apply(previous + chunk)
        views.apply(chunk)
        previous, start = chunk, start + size
    for name in views.projections:
        assert verify(views, name) == [], name
    # The rows left are exactly the plans the aggregates still wait on.
    assert pending(store) == still_planned(core, notifications)


def still_planned(core: Core, notifications: Sequence[Any]) -> int:
    """Messages whose plan waits for DELIVERED, as the aggregates (the truth) say."""
    ids = {n.originator_id for n in notifications if n.topic == Conversation.FallbackPlanned.TOPIC}
    count = 0
    for cid in ids:
        for message in core.get(Conversation, cid).messages.values():
            plan = message.fallback
            if plan is not None and plan.state == "planned" and not message.status.is_final:
                count += 1
    return count


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS, BATCHES, st.randoms(use_true_random=False))
def test_fallback_histories_project_the_same_incrementally_and_rebuilt(
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
