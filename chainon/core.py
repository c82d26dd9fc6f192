"""The core service: the one writer of the event store.

Commands go in through ``handle`` / ``handle_many``: the unit of work
(``chainon.unit_of_work``) decides them with the handlers the message bus names
(``chainon.messagebus``, ``chainon.handlers``) and saves what they changed in one
transaction. Deterministic ids make repeats collide in the store; the collision is
decided again, and then sees what the first attempt recorded. eventsourcing is
synchronous: async callers go through ``chainon.runtime``'s thread pool.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, RecordConflictError, Recording, Transcoder

from chainon.adapters.channels.email.threads import EmailThread
from chainon.adapters.persistence import saving
from chainon.adapters.persistence.port import data_keys_of
from chainon.adapters.persistence.transcoder import OrjsonTranscoder
from chainon.auth import ApiKeys
from chainon.decision_cache import DecisionCache
from chainon.destination_guard import DestinationGuard
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.addresses import Address
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_memory import HELD_IN_FULL, compact
from chainon.domain.early_receipt import EarlyReceipt
from chainon.domain.errors import Conflict
from chainon.domain.idempotency import IdempotentRequest
from chainon.domain.index import IndexEntry, IndexKind
from chainon.domain.message_status import Direction
from chainon.domain.refusal import RefusedInbound
from chainon.handlers import brands, inbound
from chainon.handlers import loading as load
from chainon.key_cache import KeyCache
from chainon.messagebus import IdempotencyClaim
from chainon.personal_data import KeyRing, LazyDataKeys, PersonalDataMapper
from chainon.recent_events import RecentEvents
from chainon.unit_of_work import UnitOfWork

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")


def utcnow() -> datetime:
    return datetime.now(UTC)


def fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime Protocol (slow on Python 3.11): our stored events are all
    ``Aggregate`` events, which mutate."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class Core(Application[UUID]):
    name = "chainon"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        default_region: str = "FR",
        key_cache_seconds: float = 0.0,
        list_unsubscribe: bool = True,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.default_region = default_region
        # Whether a marketing email can carry its unsubscribe link (chainon.unsubscribe_links;
        # always, when email goes to the sandbox): if not, it is refused when asked for.
        self.list_unsubscribe = list_unsubscribe
        # ``clock`` may be replaced later (tests move time on): read it through the core.
        self.api_keys = ApiKeys(self, lambda: self.clock(), KeyCache(key_cache_seconds))
        # The newest messages of a cached conversation kept whole (``conversation_memory``).
        self.held_in_full = int(self.env.get("CONVERSATION_HELD_IN_FULL") or HELD_IN_FULL)
        # Called (on the saving thread) after every save that recorded something: the
        # relay and the views of this process wake instead of waiting for their next poll.
        self.saved_listeners: list[Callable[[], None]] = []
        self.decisions = DecisionCache(
            self.events,
            self.recorder,
            fold,
            int(self.env.get("AGGREGATE_CACHE_MAXSIZE") or 0),
            kept_when_new=_read_again,
            compact=self._compact,
        )
        # SMS-pumping counts; the runtime points it at the read models.
        self.destination_guard = DestinationGuard()
        self.unit = UnitOfWork(
            self.decisions,
            self.save,
            lambda: self.clock(),
            default_region,
            guard=self.destination_guard,
            list_unsubscribe=list_unsubscribe,
        )

    def construct_transcoder(self) -> Transcoder:
        """eventsourcing's JSON written and read by orjson, byte for byte the same
        (``adapters.persistence.transcoder``); ``TRANSCODER_TOPIC`` may still name another."""
        if self.env.get("TRANSCODER_TOPIC"):
            return super().construct_transcoder()
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_mapper(self) -> Mapper[UUID]:
        """Personal data encrypted per contact (``chainon.personal_data``). The keys live
        in the recorder's database, made after the mapper: both are reached lazily."""
        return PersonalDataMapper(
            self.construct_transcoder(),
            KeyRing(LazyDataKeys(lambda: data_keys_of(self.recorder))),
            self._first_state,
        )

    def _first_state(self, aggregate_id: UUID) -> dict[str, Any] | None:
        found = self.recorder.select_events(aggregate_id, limit=1)
        if not found:
            return None
        state: dict[str, Any] = self.mapper.transcoder.decode(found[0].state)
        return state

    @functools.cached_property
    def recent_events(self) -> RecentEvents:
        """The decode of the store's followers in this process (relay, views, webhooks),
        who share the events one of them decoded lately."""
        return RecentEvents(self.mapper.to_domain_event)

    @property
    def keys(self) -> KeyRing:
        assert isinstance(self.mapper, PersonalDataMapper)
        return self.mapper.keys

    # The one way in for commands

    def handle(
        self, command: cmd.Command, *, idempotency: IdempotencyClaim | None = None
    ) -> cmd.Outcome:
        return self.unit.handle(self, command, idempotency)

    def handle_many(
        self, batch: Sequence[tuple[cmd.Command, IdempotencyClaim | None]]
    ) -> list[cmd.Outcome | Exception]:
        return self.unit.handle_many(self, batch)

    # Loading: the unit of work's instances while deciding, the store's otherwise

    def construct_repository(self) -> Repository[UUID]:
        """A repository without eventsourcing's cache: reads replay from the store.

        That cache brings a cached aggregate up to date in place, then deep-copies it
        after letting go of its lock, so two readers of a busy conversation raced: one
        copied while the other applied new events (``dictionary changed size during
        iteration``, a 500). Replayed, each read folds the committed events of one query
        into an instance of its own: it never sees a decision half made and shares
        nothing. It is also cheaper than the copy was: a conversation of 100 messages
        read in 2.4 ms instead of 3.7 on SQLite, 5.1 instead of 7.6 on PostgreSQL. The one
        cache left is the decision cache, and the unit of work its only user.
        """
        return Repository(self.events, snapshot_store=self.snapshots)

    def read(self, query: Callable[[Core], R]) -> R:
        """Answers ``query`` from the decision cache between two decisions: it costs what
        the query looks at, not a replay of each aggregate. Plain values out, never an
        aggregate (``UnitOfWork.read``)."""
        return self.unit.read(self, lambda _: query(self))

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        deciding, aggregate = self.unit.loaded(aggregate_id)
        if not deciding:
            try:
                aggregate = self.repository.get(aggregate_id, projector_func=fold)
            except AggregateNotFoundError:
                return None
        return aggregate if isinstance(aggregate, cls) else None

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        return load.get(self, cls, aggregate_id)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """eventsourcing's ``save`` (its faster copy: ``adapters.persistence.saving``), then
        what saving means here: this process's followers wake, cached keys are forgotten."""
        if isinstance(self.mapper, PersonalDataMapper):
            self.mapper.prime(
                e for obj in objs if isinstance(obj, Aggregate) for e in obj.pending_events
            )
        recordings = saving.save(self, *objs, **kwargs)
        if recordings:
            for listener in self.saved_listeners:
                listener()
        for obj in objs:
            if isinstance(obj, Brand):  # its keys or senders may have changed
                self.api_keys.cache.forget_brand(obj.id)
        return recordings

    def save_or_conflict(self, *aggregates: Aggregate, what: str) -> None:
        try:
            self.save(*aggregates)
        except RecordConflictError:
            raise Conflict(f"{what} was registered concurrently; look again") from None

    # Brands (operator actions, not brand-scoped commands)

    def register_brand(
        self,
        *,
        slug: str,
        name: str,
        senders: list[tuple[Channel, str]],
        help_text: str = "",
        channel_order: tuple[Channel, ...] | None = None,
        smart_encoding: bool = False,
    ) -> Brand:
        options: dict[str, Any] = {"help_text": help_text, "smart_encoding": smart_encoding}
        if channel_order is not None:
            options["channel_order"] = channel_order
        brand, claims = brands.register(
            self, slug=slug, name=name, senders=senders, options=options, now=self.clock()
        )
        self.save_or_conflict(brand, *claims, what=f"brand {slug!r} or one of its senders")
        return brand

    def add_sender(self, brand_id: UUID, channel: Channel, raw: str) -> Brand:
        brand = self.get(Brand, brand_id)
        claim = brands.claim_sender(self, brand, channel, raw, self.clock())
        self.save_or_conflict(brand, claim, what=f"{channel.value} sender {raw!r}")
        return brand

    def route_sender(
        self,
        brand_id: UUID,
        channel: Channel,
        raw: str,
        provider: str,
        links: Collection[str] | None = None,
    ) -> Brand:
        brand = self.get(Brand, brand_id)
        brands.route(self, brand, channel, raw, provider, self.clock(), links)
        self.save(brand)
        return brand

    def owns_sender(self, channel: Channel, raw: str) -> bool:
        return brands.owns(self, channel, raw)

    def list_brands(self) -> list[Brand]:
        topic = Brand.Registered.TOPIC
        found: list[Brand] = []
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=500, topics=[topic])
            found.extend(self.get(Brand, UUID(str(n.originator_id))) for n in page)
            if len(page) < 500:
                return found
            start = page[-1].id + 1

    # Queries for the API and the CLI (brand-scoped: another brand's ids answer as missing)

    def conversation_of(self, brand_id: UUID, conversation_id: UUID) -> Conversation:
        return load.conversation_of(self, brand_id, conversation_id)

    def contact_of(self, brand_id: UUID, contact_id: UUID) -> Contact:
        return load.contact_of(self, brand_id, contact_id)

    def find_contact(self, brand_id: UUID, address: Address) -> Contact | None:
        return load.find_contact(self, brand_id, address)

    def inbound_outcome(
        self, provider: str, provider_message_id: str, brand_id: UUID | None = None
    ) -> cmd.Outcome | None:
        """What became of an inbound message already recorded (or refused); None if unseen.

        Answered from the decision cache (``UnitOfWork.read``): the sandbox asks it twice
        per message, and a replay of a long conversation made each message cost its
        history."""
        return self.unit.read(
            self,
            lambda loader: inbound.inbound_outcome(loader, provider, provider_message_id, brand_id),
        )

    def conversations_of(self, contact: Contact) -> list[Conversation]:
        return [
            self.get(Conversation, ids.conversation_id(contact.id, n))
            for n in range(1, contact.conversation_count + 1)
        ]

    def email_thread(self, conversation_id: UUID) -> EmailThread:
        """A conversation's emails as the next one needs them to thread."""
        conversation = self.find(Conversation, conversation_id)
        if conversation is None:
            return EmailThread()
        emails = [m for m in conversation.messages.values() if m.channel is Channel.EMAIL]
        received = [m.subject for m in emails if m.direction is Direction.INBOUND and m.subject]
        ours = [m.body for m in emails if m.direction is Direction.OUTBOUND]
        return EmailThread(
            message_ids=[m.provider_message_id for m in emails if m.provider_message_id],
            subject=received[-1] if received else None,
            first_body=ours[0] if ours else None,
        )

    def is_contact(self, conversation_id: UUID, sender: str) -> bool:
        """Whether ``sender`` is the contact of the conversation (a reply to its address)."""
        return inbound.is_contact(self, conversation_id, sender)

    def _compact(self, aggregate: Aggregate) -> None:
        if isinstance(aggregate, Conversation):
            compact(aggregate, self.held_in_full)


def _read_again(aggregate: Aggregate) -> bool:
    """Whether the decision cache keeps a new aggregate: not the records written once per
    message and rarely read again (and then prefetched), which under a burst pushed the
    conversations out; but a contact's address entry is read by each of their messages."""
    if isinstance(aggregate, IndexEntry):
        return aggregate.kind is IndexKind.CONTACT_ADDRESS
    return not isinstance(aggregate, RefusedInbound | IdempotentRequest | EarlyReceipt)
