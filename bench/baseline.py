"""The baseline: the inbound burst written with plain ``eventsourcing``, default settings.

One aggregate per conversation (found by the consumer's number), one event per message;
the application's defaults otherwise (JSON transcoder, no snapshots, no cache). Saved one
aggregate per ``app.save`` (a transaction per message), or the aggregates of 100 messages
per ``app.save`` (one transaction). Same store as Chainon's in each case.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

from bench.registry import Context, Kind, Service, measurement
from bench.result import Latency, Missing, Result, own_peak_rss
from bench.traffic import BRAND_NUMBER, Inbound, inbound

PER_SAVE = 100


class Conversation(Aggregate):
    @staticmethod
    def create_id(contact: str, brand: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"conversation:{brand}:{contact}")

    @event("Opened")
    def __init__(self, contact: str, brand: str) -> None:
        self.contact = contact
        self.brand = brand
        self.received = 0

    @event("MessageReceived")
    def receive(self, message_id: str, body: str, channel: str) -> None:
        self.received += 1


class Inbox(Application[UUID]):
    def conversation(self, contact: str) -> Conversation:
        try:
            found: Conversation = self.repository.get(Conversation.create_id(contact, BRAND_NUMBER))
        except AggregateNotFoundError:
            return Conversation(contact, BRAND_NUMBER)
        return found


def _env(ctx: Context, store: str) -> dict[str, str]:
    if store == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(ctx.data_dir / "plain.sqlite3"),
        }
    from chainon.event_store import postgres_env

    settings = ctx.settings(postgres_dsn=ctx.require_postgres(), postgres_schema=ctx.fresh_schema())
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", **postgres_env(settings)}


def _save_each(app: Inbox, messages: list[Inbound]) -> list[float]:
    saves = []
    for m in messages:
        begun = time.perf_counter()
        conversation = app.conversation(m.sender)
        conversation.receive(m.provider_message_id, m.body, "sms")
        app.save(conversation)
        saves.append(time.perf_counter() - begun)
    return saves


def _save_hundred(app: Inbox, messages: list[Inbound]) -> list[float]:
    saves = []
    for start in range(0, len(messages), PER_SAVE):
        begun = time.perf_counter()
        touched: dict[str, Conversation] = {}
        for m in messages[start : start + PER_SAVE]:
            if m.sender not in touched:
                touched[m.sender] = app.conversation(m.sender)
            touched[m.sender].receive(m.provider_message_id, m.body, "sms")
        app.save(*touched.values())
        saves.append(time.perf_counter() - begun)
    return saves


def _baseline(store: str, batched: bool) -> Callable[[Context], Result]:
    name = f"eventsourcing.{store}.{'save-100' if batched else 'save-each'}"

    def run(ctx: Context) -> Result:
        counts = ctx.counts
        messages = inbound(counts.messages, counts.conversations)
        app = Inbox(env=_env(ctx, store))
        try:
            with ctx.stages(threads=False) as cpu:
                started = time.perf_counter()
                saves = (_save_hundred if batched else _save_each)(app, messages)
                seconds = time.perf_counter() - started
            events = app.recorder.max_notification_id() or 0
        finally:
            app.close()
        expected = counts.messages + min(counts.conversations, counts.messages)
        if events != expected:
            raise Missing(f"{events} events stored, {expected} expected")
        return Result(
            name=name,
            mode="raw",
            count=counts.messages,
            seconds=seconds,
            unit="messages",
            latency=Latency.of(saves),
            latency_of=f"app.save of {PER_SAVE} messages" if batched else "load, apply, save",
            limit=f"{store}.insert",
            rss={"bench": own_peak_rss()},
            cpu=cpu.seconds,
            extra={
                "events": events,
                "events_per_second": round(events / seconds, 1),
                "conversations": counts.conversations,
                "messages_per_transaction": PER_SAVE if batched else 1,
            },
        )

    run.__doc__ = f"Plain eventsourcing on {store}, " + (
        "the aggregates of 100 messages per save." if batched else "one save per message."
    )
    return run


for _store in ("sqlite", "postgres"):
    for _batched in (False, True):
        measurement(
            f"eventsourcing.{_store}.{'save-100' if _batched else 'save-each'}",
            Kind.BASELINE,
            needs={Service.POSTGRES} if _store == "postgres" else set(),
        )(_baseline(_store, _batched))
