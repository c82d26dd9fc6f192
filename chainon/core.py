"""The core service: Chainon's command handlers over the event store.

Each handler loads the aggregates it needs, lets them decide, and saves everything it
changed in one transaction. Deterministic ids make repeats collide in the store; the
collision is retried, and the retry then sees what the first attempt recorded.
``handle_many`` decides a batch of commands in one unit of work and saves it in one
transaction (group commit): the store's cost is per transaction far more than per event.
eventsourcing is synchronous: async callers go through ``chainon.runtime``'s thread pool.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError, Recording

from adapters.persistence import saving
from chainon.decision_cache import DecisionCache
from chainon.key_cache import KeyCache
from domain import commands as cmd
from domain import ids
from domain.addresses import Address, parse_address, parse_email, parse_phone
from domain.brand import Brand, check_fallback_seconds
from domain.channels import CHANNEL_ADDRESS_KIND, AddressKind, Channel, channels_reaching
from domain.contact import Contact
from domain.conversation import Conversation, FallbackReason
from domain.early_receipt import EarlyReceipt
from domain.errors import Conflict, DomainError, InvalidInput, NotFound
from domain.idempotency import IdempotentRequest, request_id
from domain.index import IndexEntry, IndexKind, entry_id
from domain.message_body import prepare_body
from domain.message_status import MessageStatus
from domain.refusal import RefusedInbound
from domain.rich_content import RichContent, choice_from_sms_reply, render_sms

A = TypeVar("A", bound=Aggregate)
Handled = tuple[cmd.Outcome, list[Aggregate]]
MAX_ATTEMPTS = 8


class ConcurrencyExhausted(DomainError):
    """Too many concurrent writers on the same aggregates; the caller may retry later."""


@dataclass(frozen=True)
class IdempotencyClaim:
    brand_id: UUID
    key: str
    fingerprint: str


def utcnow() -> datetime:
    return datetime.now(UTC)


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime Protocol (slow on Python 3.11): our stored events are all
    ``Aggregate`` events, which mutate."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def hash_api_key(key: str) -> str:
    # Keys carry 190 bits of randomness, so a fast hash is enough (as for GitHub tokens).
    return hashlib.sha256(key.encode()).hexdigest()


def split_api_key(key: str) -> str | None:
    """The key id inside ``chn_<id>_<secret>``, or None when it is not of that shape."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "chn" or len(parts[1]) != 12:
        return None
    return parts[1]


class Core(Application[UUID]):
    name = "chainon"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        default_region: str = "FR",
        key_cache_seconds: float = 0.0,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.keys = KeyCache(key_cache_seconds)
        # The aggregates a batch has loaded or changed, for the thread deciding it: the
        # batch's later commands must see its earlier ones' changes before they are saved.
        self._unit = threading.local()
        self._deciding = threading.RLock()
        # Called (on the saving thread) after every save that recorded something: the
        # relay and the views of this process wake instead of waiting for their next poll.
        self.saved_listeners: list[Callable[[], None]] = []
        self.decisions = DecisionCache(
            self.events,
            self.recorder,
            project,
            int(self.env.get("AGGREGATE_CACHE_MAXSIZE") or 0),
            # written once per message, read again rarely (and then prefetched)
            not_kept_when_new=(IndexEntry, RefusedInbound, IdempotentRequest, EarlyReceipt),
        )
        self.default_region = default_region
        self._handlers: dict[type[cmd.Command], Callable[[Any, datetime], Handled]] = {
            cmd.SendMessage: self._send,
            cmd.Reply: self._reply,
            cmd.ReceiveMessage: self._receive,
            cmd.RecordSent: self._record_sent,
            cmd.RecordSendFailure: self._record_send_failure,
            cmd.RecordReceipt: self._record_receipt,
            cmd.AssignConversation: self._assign,
            cmd.TagConversation: self._tag,
            cmd.ResolveConversation: self._resolve,
            cmd.ReopenConversation: self._reopen,
            cmd.AddContactAddress: self._add_contact_address,
            cmd.ClaimConversation: self._claim,
            cmd.PrioritizeConversation: self._prioritize,
            cmd.UpdateContact: self._update_contact,
            cmd.ConfigureQueue: self._configure_queue,
            cmd.SetAgentCapacity: self._set_capacity,
            cmd.RecordCapability: self._record_capability,
            cmd.EnforceFallbackDeadline: self._enforce_deadline,
            cmd.RecordRevocation: self._record_revocation,
            cmd.ConfigureFallback: self._configure_fallback,
        }

    # The one way in for commands

    def handle(
        self, command: cmd.Command, *, idempotency: IdempotencyClaim | None = None
    ) -> cmd.Outcome:
        for _ in range(MAX_ATTEMPTS):
            try:
                [outcome], recordings = self._unit_of_work([(command, idempotency)])
            except RecordConflictError:
                continue  # someone else wrote first: decide again on what they recorded
            if recordings:
                outcome = outcome.model_copy(update={"position": recordings[-1].notification.id})
            return outcome
        raise ConcurrencyExhausted("too many concurrent changes; try again")

    def handle_many(
        self, batch: Sequence[tuple[cmd.Command, IdempotencyClaim | None]]
    ) -> list[cmd.Outcome | Exception]:
        """Decides the commands in order, each seeing the ones before it, and saves them all
        in one transaction. If anything goes wrong (a refusal, a conflict, a bug in one
        handler, the store), the batch is decided again one command at a time, so one bad
        command never fails its neighbours; the result then holds each command's own error
        in its place."""
        if len(batch) > 1:
            try:
                return list(self._decide_together(batch))
            except Exception:  # each command's own error comes next, alone
                pass
        results: list[cmd.Outcome | Exception] = []
        for command, idempotency in batch:
            try:
                results.append(self.handle(command, idempotency=idempotency))
            except Exception as error:  # handed to that command's caller
                results.append(error)
        return results

    def _decide_together(
        self, batch: Sequence[tuple[cmd.Command, IdempotencyClaim | None]]
    ) -> list[cmd.Outcome]:
        outcomes, recordings = self._unit_of_work(batch)
        if not recordings:
            return outcomes
        # Every command's effects are in the read models once they reach the batch's end.
        position = recordings[-1].notification.id
        return [
            o.model_copy(update={"position": position}) if o.changed and not o.duplicate else o
            for o in outcomes
        ]

    def _unit_of_work(
        self, batch: Sequence[tuple[cmd.Command, IdempotencyClaim | None]]
    ) -> tuple[list[cmd.Outcome], list[Recording[UUID]]]:
        """Decides and saves as one unit: every load of an aggregate in it gives the same
        instance (a later command sees an earlier one's changes; two decisions cannot fork
        an aggregate into conflicting versions), and one unit at a time, since the loads
        hand out the decision cache's own instances. A unit that fails for any reason
        leaves nothing it touched in that cache."""
        with self._deciding:
            unit: dict[UUID, Aggregate] = {}
            self._unit.aggregates = unit
            try:
                self.decisions.sync()
                if len(batch) > 1:
                    self.decisions.prefetch(self._lookups(batch))
                    self._prefetch_contacts(batch)
                outcomes: list[cmd.Outcome] = []
                changed: dict[int, Aggregate] = {}
                for command, idempotency in batch:
                    outcome, touched = self._decide(command, idempotency)
                    for aggregate in touched:
                        unit[aggregate.id] = aggregate
                        changed[id(aggregate)] = aggregate
                    outcomes.append(outcome)
                recordings = self.save(*changed.values())
            except BaseException:
                self.decisions.forget(unit.values())
                raise
            finally:
                self._unit.aggregates = None
            self.decisions.keep(unit.values(), recordings)
            return outcomes, recordings

    def _lookups(self, batch: Sequence[tuple[cmd.Command, IdempotencyClaim | None]]) -> list[UUID]:
        """Ids the batch's handlers will look up first, known from the commands alone."""
        found: list[UUID] = []
        for command, idempotency in batch:
            if idempotency is not None:
                found.append(request_id(idempotency.brand_id, idempotency.key))
            if isinstance(command, cmd.SendMessage):
                found.append(command.brand_id)
                if (entry := self._contact_entry(command)) is not None:
                    found.append(entry)
            elif isinstance(command, cmd.ReceiveMessage):
                provider, given = command.provider, command.provider_message_id
                found.append(entry_id(IndexKind.PROVIDER_MESSAGE, inbound_key(provider, given)))
                found.append(ids.inbound_message_id(provider, given))  # a refusal's id
            elif isinstance(command, cmd.RecordReceipt):
                found.extend(
                    entry_id(IndexKind.PROVIDER_MESSAGE, outbound_key(command.provider, segment))
                    for segment in (command.provider_message_id, *command.alternative_ids)
                )
            elif isinstance(command, cmd.RecordSent):
                found.append(command.conversation_id)
                found.extend(
                    ids.early_receipt_id(command.provider, segment)
                    for segment in (command.provider_message_id, *command.segment_ids)
                )
            else:
                conversation_id = getattr(command, "conversation_id", None)
                if isinstance(conversation_id, UUID):
                    found.append(conversation_id)
        return found

    def _prefetch_contacts(
        self, batch: Sequence[tuple[cmd.Command, IdempotencyClaim | None]]
    ) -> None:
        """The contacts the batch's sends address, then their current conversations: what
        a send looks up after the contact's index entry, two queries for the whole batch
        (none when every recipient is new, as in a campaign)."""
        entries = (
            self.decisions.cached(entry)
            for command, _ in batch
            if isinstance(command, cmd.SendMessage)
            and (entry := self._contact_entry(command)) is not None
        )
        contact_ids = [e.target_id for e in entries if isinstance(e, IndexEntry)]
        if not contact_ids:
            return
        self.decisions.prefetch(contact_ids)
        contacts = (self.decisions.cached(i) for i in contact_ids)
        self.decisions.prefetch(
            c.current_conversation_id
            for c in contacts
            if isinstance(c, Contact) and c.current_conversation_id is not None
        )

    def _contact_entry(self, command: cmd.SendMessage) -> UUID | None:
        """The id of the index entry naming the send's contact (None if the address is
        unreadable: the handler refuses it, naming the field)."""
        try:
            address = parse_address(command.to, default_region=self.default_region, field="to")
        except InvalidInput:
            return None
        return entry_id(IndexKind.CONTACT_ADDRESS, contact_key(command.brand_id, address))

    def _decide(self, command: cmd.Command, idempotency: IdempotencyClaim | None) -> Handled:
        handler = self._handlers[type(command)]
        if idempotency is not None:
            previous = self.find(
                IdempotentRequest, request_id(idempotency.brand_id, idempotency.key)
            )
            if previous is not None:
                replayed = previous.replay(idempotency.fingerprint)
                return cmd.Outcome.model_validate({**replayed, "duplicate": True}), []
        now = self.clock()
        outcome, changed = handler(command, now)
        if idempotency is not None:
            changed.append(
                IdempotentRequest.answer(
                    idempotency.brand_id,
                    idempotency.key,
                    idempotency.fingerprint,
                    outcome.model_dump(mode="json", exclude={"position"}),
                    at=now,
                )
            )
        return outcome, changed

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
        now = self.clock()
        if self.find(Brand, ids.brand_id(slug)) is not None:
            raise Conflict(f"a brand {slug!r} exists already", field="slug")
        options: dict[str, Any] = {"help_text": help_text, "smart_encoding": smart_encoding}
        if channel_order is not None:
            options["channel_order"] = channel_order
        brand = Brand.register(slug=slug, name=name, at=now, **options)
        claims = [self._claim_sender(brand, channel, raw, now) for channel, raw in senders]
        self._save_or_conflict(brand, *claims, what=f"brand {slug!r} or one of its senders")
        return brand

    def add_sender(self, brand_id: UUID, channel: Channel, raw: str) -> Brand:
        now = self.clock()
        brand = self.get(Brand, brand_id)
        claim = self._claim_sender(brand, channel, raw, now)
        self._save_or_conflict(brand, claim, what=f"{channel.value} sender {raw!r}")
        return brand

    def _claim_sender(self, brand: Brand, channel: Channel, raw: str, now: datetime) -> IndexEntry:
        address = sender_key(channel, raw, self.default_region)
        owner = self.find(IndexEntry, entry_id(IndexKind.SENDER_ADDRESS, f"{channel}:{address}"))
        if owner is not None:
            raise Conflict(f"{address} is already a {channel.value} sender", field="senders")
        brand.add_sender(channel, address, at=now)
        return IndexEntry.claim(IndexKind.SENDER_ADDRESS, f"{channel}:{address}", brand.id, at=now)

    def route_sender(self, brand_id: UUID, channel: Channel, raw: str, provider: str) -> Brand:
        brand = self.get(Brand, brand_id)
        brand.route(
            channel, sender_key(channel, raw, self.default_region), provider, at=self.clock()
        )
        self.save(brand)
        return brand

    def issue_api_key(self, brand_id: UUID, label: str = "default") -> str:
        """Returns the new key; only its hash is stored, so this is the one time it is seen."""
        now = self.clock()
        brand = self.get(Brand, brand_id)
        key_id = secrets.token_hex(6)
        key = f"chn_{key_id}_{secrets.token_urlsafe(24)}"
        brand.issue_key(key_id, hash_api_key(key), label, at=now)
        claim = IndexEntry.claim(IndexKind.API_KEY, key_id, brand.id, at=now)
        self._save_or_conflict(brand, claim, what="api key")
        return key

    def revoke_api_key(self, brand_id: UUID, key_id: str) -> None:
        brand = self.get(Brand, brand_id)
        brand.revoke_key(key_id, at=self.clock())
        self.save(brand)

    def remembered(self, key: str) -> Brand | None:
        """The key's brand if this process accepted the key within the cache's time; no
        store read, so it may run on the event loop."""
        return self.keys.get(hash_api_key(key)) if self.keys.enabled else None

    def authenticate(self, key: str) -> Brand | None:
        """The key's brand, or None. The brand may come from ``self.keys`` (see
        ``chainon.key_cache`` for how soon a revocation made elsewhere applies): callers
        read it and never change it."""
        key_id = split_api_key(key)
        if key_id is None:
            return None
        key_hash = hash_api_key(key)
        remembered = self.keys.get(key_hash)
        if remembered is not None:
            return remembered
        generation = self.keys.generation
        entry = self.find(IndexEntry, entry_id(IndexKind.API_KEY, key_id))
        if entry is None:
            return None
        brand = self.get(Brand, entry.target_id)
        if not brand.accepts_key(key_id, key_hash):
            return None
        self.keys.put(key_hash, brand, generation)
        return brand

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """eventsourcing's ``save`` (its faster copy: ``adapters.persistence.saving``), then
        what saving means here: this process's followers wake, cached keys are forgotten."""
        recordings = saving.save(self, *objs, **kwargs)
        if recordings:
            for listener in self.saved_listeners:
                listener()
        for obj in objs:
            if isinstance(obj, Brand):  # its keys or senders may have changed
                self.keys.forget_brand(obj.id)
        return recordings

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

    # Queries

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        found = self.find(cls, aggregate_id)
        if found is None:
            raise NotFound(f"no {cls.__name__.lower()} {aggregate_id}")
        return found

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        unit: dict[UUID, Aggregate] | None = getattr(self._unit, "aggregates", None)
        aggregate: Aggregate | None = None if unit is None else unit.get(aggregate_id)
        if aggregate is None:
            if unit is not None:
                aggregate = self.decisions.load(aggregate_id)
                if aggregate is None:
                    return None
                unit[aggregate_id] = aggregate
            else:
                try:
                    aggregate = self.repository.get(aggregate_id, projector_func=project)
                except AggregateNotFoundError:
                    return None
        return aggregate if isinstance(aggregate, cls) else None

    def conversation_of(self, brand_id: UUID, conversation_id: UUID) -> Conversation:
        """The brand's conversation; another brand's answers exactly as a missing one."""
        conversation = self.find(Conversation, conversation_id)
        if conversation is None or conversation.brand_id != brand_id:
            raise NotFound(f"no conversation {conversation_id}")
        return conversation

    def contact_of(self, brand_id: UUID, contact_id: UUID) -> Contact:
        contact = self.find(Contact, contact_id)
        if contact is None or contact.brand_id != brand_id:
            raise NotFound(f"no contact {contact_id}")
        return contact

    def find_contact(self, brand_id: UUID, address: Address) -> Contact | None:
        entry = self.find(
            IndexEntry, entry_id(IndexKind.CONTACT_ADDRESS, contact_key(brand_id, address))
        )
        return None if entry is None else self.get(Contact, entry.target_id)

    def inbound_outcome(self, provider: str, provider_message_id: str) -> cmd.Outcome | None:
        """What became of an inbound message already recorded (or refused); None if unseen."""
        message_id = ids.inbound_message_id(provider, provider_message_id)
        key = inbound_key(provider, provider_message_id)
        seen = self.find(IndexEntry, entry_id(IndexKind.PROVIDER_MESSAGE, key))
        if seen is not None:
            conversation = self.get(Conversation, seen.target_id)
            return cmd.Outcome(
                changed=False,
                duplicate=True,
                brand_id=conversation.brand_id,
                contact_id=conversation.contact_id,
                conversation_id=conversation.id,
                message_id=message_id,
                channel=conversation.message(message_id).channel,
            )
        refused = self.find(RefusedInbound, message_id)
        if refused is not None:
            return cmd.Outcome(changed=False, duplicate=True, refused=refused.reason)
        return None

    def conversations_of(self, contact: Contact) -> list[Conversation]:
        return [
            self.get(Conversation, ids.conversation_id(contact.id, n))
            for n in range(1, contact.conversation_count + 1)
        ]

    # Handlers

    def _send(self, command: cmd.SendMessage, now: datetime) -> Handled:
        brand = self.get(Brand, command.brand_id)
        address = parse_address(command.to, default_region=self.default_region, field="to")
        channel = self._pick_channel(brand, address.kind, command.channel)
        if command.fallback_after_seconds is not None:
            check_fallback_seconds(command.fallback_after_seconds)
        contact, changed = self._contact_for(brand.id, address, now)
        conversation = self._current_conversation(brand, contact, now)
        rich = command.rich
        if command.body is not None:
            text = command.body
            if channel is not Channel.RCS:
                rich = None  # the brand's own SMS wording: it offers no numbered choices
        else:
            assert rich is not None  # SendMessage requires one of them
            # On RCS the chips show themselves; elsewhere they are numbered in the text.
            text = rich.text or render_sms(rich) if channel is Channel.RCS else render_sms(rich)
        fallback = brand.fallback_channel(channel) if channel is Channel.RCS else None
        if fallback is not None and contact.capable_of(Channel.RCS, at=now) is False:
            # Known not to take RCS: straight to the fallback, counted as one.
            replacement = uuid4()
            conversation.fall_back(None, FallbackReason.NOT_CAPABLE, fallback, replacement, at=now)
            sms_text = render_sms(rich) if rich is not None else text
            outcome = self._queue(
                brand,
                conversation,
                contact,
                fallback,
                address,
                sms_text,
                now,
                reopen=True,
                request_id=command.request_id,
                message_id=replacement,
            )
            return outcome, [*changed, conversation, contact]
        outcome = self._queue(
            brand,
            conversation,
            contact,
            channel,
            address,
            text,
            now,
            reopen=True,
            request_id=command.request_id,
            rich=rich,
            fallback_after=(
                timedelta(seconds=command.fallback_after_seconds)
                if command.fallback_after_seconds is not None
                else None
            ),
        )
        return outcome, [*changed, conversation, contact]

    def _reply(self, command: cmd.Reply, now: datetime) -> Handled:
        brand = self.get(Brand, command.brand_id)
        conversation = self.conversation_of(brand.id, command.conversation_id)
        contact = self.get(Contact, conversation.contact_id)
        channel = command.channel or self._reply_channel(brand, contact, conversation)
        address = contact.address_of(CHANNEL_ADDRESS_KIND[channel])
        if address is None:
            raise InvalidInput(
                f"the contact has no address {channel.value} can reach", field="channel"
            )
        outcome = self._queue(
            brand,
            conversation,
            contact,
            channel,
            address,
            command.body,
            now,
            reopen=False,
            request_id=command.request_id,
        )
        return outcome, [conversation, contact]

    def _queue(
        self,
        brand: Brand,
        conversation: Conversation,
        contact: Contact,
        channel: Channel,
        address: Address,
        text: str,
        now: datetime,
        *,
        reopen: bool,
        request_id: str | None,
        message_id: UUID | None = None,
        rich: RichContent | None = None,
        fallback_of: UUID | None = None,
        fallback_after: timedelta | None = None,
    ) -> cmd.Outcome:
        """Queues an outbound message: the body checked and segmented for its channel; an
        RCS message gets its fallback plan when the brand has a channel to fall back to."""
        body = prepare_body(text, channel, smart_encoding=brand.smart_encoding)
        message_id = message_id or uuid4()
        conversation.queue(
            message_id=message_id,
            channel=channel,
            sender=self._sender(brand, channel),
            recipient=address.value,
            body=body.text,
            encoding=body.encoding.value if body.encoding else None,
            segments=body.segments,
            replaced=body.replaced,
            at=now,
            reopen=reopen,
            request_id=request_id,
            rich=rich.model_dump(mode="json", exclude_none=True) if rich else None,
            fallback_of=fallback_of,
            # A fresh "yes" from the provider spares it a capability check per send (RBM
            # rate-limits them); a "no" never gets here, it goes straight to the fallback.
            capability_known=channel is Channel.RCS
            and contact.capable_of(Channel.RCS, at=now) is True,
        )
        fallback = brand.fallback_channel(channel) if channel is Channel.RCS else None
        if fallback is not None:
            if rich is not None:  # refused now if its SMS rendering could not go
                prepare_body(render_sms(rich), fallback, smart_encoding=brand.smart_encoding)
            deadline = now + (fallback_after or brand.fallback_after)
            conversation.plan_fallback(message_id, fallback, deadline)
        contact.reached_on(channel, at=now)
        return cmd.Outcome(
            brand_id=brand.id,
            contact_id=contact.id,
            conversation_id=conversation.id,
            message_id=message_id,
            channel=channel,
        )

    def _fall_back(
        self, conversation: Conversation, message_id: UUID, reason: FallbackReason, now: datetime
    ) -> list[Aggregate]:
        """Queues the replacement of an RCS message on its fallback channel, once."""
        message = conversation.message(message_id)
        plan = message.fallback
        assert plan is not None
        brand = self.get(Brand, conversation.brand_id)
        contact = self.get(Contact, conversation.contact_id)
        replacement = ids.fallback_message_id(message_id)
        conversation.fall_back(message_id, reason, plan.channel, replacement, at=now)
        rich = RichContent.model_validate(message.rich) if message.rich else None
        self._queue(
            brand,
            conversation,
            contact,
            plan.channel,
            Address(CHANNEL_ADDRESS_KIND[plan.channel], message.recipient),
            render_sms(rich) if rich is not None else message.body,
            now,
            reopen=True,
            request_id=None,
            message_id=replacement,
            fallback_of=message_id,
        )
        return [conversation, contact]

    def _record_capability(self, command: cmd.RecordCapability, now: datetime) -> Handled:
        conversation = self.get(Conversation, command.conversation_id)
        contact = self.get(Contact, conversation.contact_id)
        changed = contact.capability_checked(
            command.channel, command.capable, list(command.features), at=now
        )
        outcome = cmd.Outcome(
            changed=changed,
            brand_id=conversation.brand_id,
            contact_id=contact.id,
            conversation_id=conversation.id,
        )
        return outcome, [contact] if changed else []

    def _enforce_deadline(self, command: cmd.EnforceFallbackDeadline, now: datetime) -> Handled:
        conversation = self.get(Conversation, command.conversation_id)
        changed = conversation.fallback_due(command.message_id, at=now, now=command.now)
        outcome = cmd.Outcome(
            changed=changed,
            brand_id=conversation.brand_id,
            conversation_id=conversation.id,
            message_id=command.message_id,
        )
        return outcome, [conversation] if changed else []

    def _record_revocation(self, command: cmd.RecordRevocation, now: datetime) -> Handled:
        conversation = self.get(Conversation, command.conversation_id)
        message_id = command.message_id
        changed: list[Aggregate] = []
        if command.result == "revoked":
            if conversation.revoked(message_id, at=now):
                changed = self._fall_back(conversation, message_id, FallbackReason.DEADLINE, now)
        elif conversation.revocation_failed(message_id, command.reason or command.result, at=now):
            changed = [conversation]
            if command.result == "already_delivered":
                conversation.record_outcome(message_id, MessageStatus.DELIVERED, at=now)
        message = conversation.message(message_id)
        outcome = cmd.Outcome(
            changed=bool(changed),
            brand_id=conversation.brand_id,
            conversation_id=conversation.id,
            message_id=message_id,
            channel=message.channel,
            status=message.status,
        )
        return outcome, changed

    def _configure_fallback(self, command: cmd.ConfigureFallback, now: datetime) -> Handled:
        brand = self.get(Brand, command.brand_id)
        changed = brand.configure_fallback(command.after_seconds, at=now)
        return cmd.Outcome(changed=changed, brand_id=brand.id), [brand] if changed else []

    def _receive(self, command: cmd.ReceiveMessage, now: datetime) -> Handled:
        message_id = ids.inbound_message_id(command.provider, command.provider_message_id)
        recorded = self.inbound_outcome(command.provider, command.provider_message_id)
        if recorded is not None:
            return recorded, []
        try:
            sender = self._inbound_sender(command)
            hinted = self._hinted(command, sender)
            brand_id = hinted.brand_id if hinted is not None else self._route(command)
        except InvalidInput as refusal:
            return self._refuse(command, message_id, refusal.detail, now)
        brand = self.get(Brand, brand_id)
        contact, changed = self._contact_for(brand.id, sender, now)
        window = timedelta(hours=brand.reopen_window_hours)
        if hinted is not None and hinted.takes_new_message(at=now, reopen_window=window):
            conversation = hinted
        else:
            conversation = self._current_conversation(brand, contact, now)
        conversation.receive(
            message_id=message_id,
            channel=command.channel,
            sender=sender.value,
            recipient=command.recipient,
            body=command.body,
            provider=command.provider,
            provider_message_id=command.provider_message_id,
            at=now,
            request_id=command.request_id,
        )
        contact.reached_on(command.channel, at=now)
        self._note_choice(conversation, command, message_id, now)
        seen_entry = IndexEntry.claim(
            IndexKind.PROVIDER_MESSAGE,
            inbound_key(command.provider, command.provider_message_id),
            conversation.id,
            at=now,
            detail=str(message_id),
        )
        outcome = cmd.Outcome(
            brand_id=brand.id,
            contact_id=contact.id,
            conversation_id=conversation.id,
            message_id=message_id,
            channel=command.channel,
        )
        return outcome, [*changed, conversation, contact, seen_entry]

    @staticmethod
    def _note_choice(
        conversation: Conversation, command: cmd.ReceiveMessage, message_id: UUID, now: datetime
    ) -> None:
        """A tapped RCS suggestion carries its postback; an SMS answer "2" to a fallback
        that listed numbered choices is read as the second one, so a bot flow built on
        postbacks works whichever channel carried the question."""
        offer = conversation.last_offer()
        if command.postback_data is not None:
            conversation.choose(
                message_id,
                in_reply_to=offer.id if offer is not None else None,
                postback_data=command.postback_data,
                text=command.body,
                at=now,
            )
            return
        if offer is None or offer.rich is None or command.channel is not Channel.SMS:
            return
        shown = conversation.last_outbound()
        if shown is None or shown.channel is not Channel.SMS:
            return  # the chips were shown on RCS, unnumbered: "2" is just text
        try:
            content = RichContent.model_validate(offer.rich)
        except ValueError:
            return  # stored under older limits: no choice rather than a refused message
        chosen = choice_from_sms_reply(content, command.body)
        if chosen is not None:
            conversation.choose(
                message_id,
                in_reply_to=offer.id,
                postback_data=chosen.postback_data,
                text=chosen.text,
                at=now,
            )

    def _record_sent(self, command: cmd.RecordSent, now: datetime) -> Handled:
        conversation = self.get(Conversation, command.conversation_id)
        segment_ids = command.segment_ids or [command.provider_message_id]
        changed = conversation.mark_sent(
            command.message_id,
            provider=command.provider,
            provider_message_id=command.provider_message_id,
            segment_ids=segment_ids,
            at=now,
        )
        outcome = cmd.Outcome(
            changed=changed,
            brand_id=conversation.brand_id,
            conversation_id=conversation.id,
            message_id=command.message_id,
        )
        if not changed:
            return outcome, []
        # Every segment's id leads back to the message: receipts come per segment.
        segments = list(dict.fromkeys([command.provider_message_id, *segment_ids]))
        entries: list[Aggregate] = [
            IndexEntry.claim(
                IndexKind.PROVIDER_MESSAGE,
                outbound_key(command.provider, segment),
                conversation.id,
                at=now,
                detail=str(command.message_id),
            )
            for segment in segments
        ]
        for segment in segments:
            early = self.find(EarlyReceipt, ids.early_receipt_id(command.provider, segment))
            if early is None or early.matched:
                continue
            for status, reason in early.outcomes:
                conversation.record_outcome(
                    command.message_id, status, at=now, reason=reason, segment_id=segment
                )
            if early.read:
                conversation.mark_read(command.message_id, at=now)
            early.match(conversation.id, command.message_id, at=now)
            entries.append(early)
        message = conversation.message(command.message_id)
        outcome = outcome.model_copy(update={"channel": message.channel, "status": message.status})
        return outcome, [conversation, *entries]

    def _record_send_failure(self, command: cmd.RecordSendFailure, now: datetime) -> Handled:
        conversation = self.get(Conversation, command.conversation_id)
        changed = conversation.record_outcome(
            command.message_id, MessageStatus.FAILED, at=now, reason=command.reason
        )
        outcome = cmd.Outcome(
            changed=changed,
            brand_id=conversation.brand_id,
            conversation_id=conversation.id,
            message_id=command.message_id,
        )
        if not changed:
            return outcome, []
        touched: list[Aggregate] = [conversation]
        reason = (
            FallbackReason.NOT_CAPABLE
            if command.reason == FallbackReason.NOT_CAPABLE.value
            else FallbackReason.FAILED
        )
        if conversation.may_fall_back(command.message_id, reason):
            touched = self._fall_back(conversation, command.message_id, reason, now)
        if reason is FallbackReason.NOT_CAPABLE:
            contact = self.get(Contact, conversation.contact_id)
            if contact.capability_checked(Channel.RCS, False, [], at=now):
                touched.append(contact)
        return outcome, touched

    def _record_receipt(self, command: cmd.RecordReceipt, now: datetime) -> Handled:
        for segment_id in dict.fromkeys([command.provider_message_id, *command.alternative_ids]):
            key = outbound_key(command.provider, segment_id)
            entry = self.find(IndexEntry, entry_id(IndexKind.PROVIDER_MESSAGE, key))
            if entry is not None:
                break
        else:
            return self._keep_early(command, now)
        conversation = self.get(Conversation, entry.target_id)
        message_id = UUID(entry.detail)
        moved = conversation.record_outcome(
            message_id,
            command.status,
            at=now,
            reason=command.reason,
            segment_id=segment_id,
        )
        read = command.read and conversation.mark_read(message_id, at=now)
        changed = moved or read
        message = conversation.message(message_id)
        outcome = cmd.Outcome(
            changed=changed,
            brand_id=conversation.brand_id,
            conversation_id=conversation.id,
            message_id=message_id,
            channel=message.channel,
            # Set only when this receipt gave the message its status (not for one segment
            # of several, nor for a read receipt of a message already delivered).
            status=command.status if moved and message.status is command.status else None,
            read=read,
        )
        if changed and conversation.may_fall_back(message_id, FallbackReason.FAILED):
            return outcome, self._fall_back(conversation, message_id, FallbackReason.FAILED, now)
        return outcome, [conversation] if changed else []

    def _keep_early(self, command: cmd.RecordReceipt, now: datetime) -> Handled:
        """A receipt for an id no message has (yet): kept until its send is recorded."""
        kept = self.find(
            EarlyReceipt, ids.early_receipt_id(command.provider, command.provider_message_id)
        )
        if kept is None:
            kept = EarlyReceipt.keep(
                command.provider,
                command.provider_message_id,
                command.status,
                command.reason,
                at=now,
            )
            new = True
        else:
            new = kept.keep_again(command.status, command.reason, at=now)
        if command.read:
            new = kept.keep_read(at=now) or new
        if not new:
            return cmd.Outcome(changed=False, duplicate=True), []
        return cmd.Outcome(changed=False, kept=True), [kept]

    def _assign(self, command: cmd.AssignConversation, now: datetime) -> Handled:
        conversation = self.conversation_of(command.brand_id, command.conversation_id)
        changed = conversation.assign(agent=command.agent, team=command.team, at=now)
        return self._outcome(conversation, changed), [conversation]

    def _tag(self, command: cmd.TagConversation, now: datetime) -> Handled:
        conversation = self.conversation_of(command.brand_id, command.conversation_id)
        changed = [conversation.tag(tag, at=now) for tag in command.add]
        changed += [conversation.untag(tag, at=now) for tag in command.remove]
        return self._outcome(conversation, any(changed)), [conversation]

    def _resolve(self, command: cmd.ResolveConversation, now: datetime) -> Handled:
        conversation = self.conversation_of(command.brand_id, command.conversation_id)
        conversation.resolve(by=command.by, at=now)
        return self._outcome(conversation, True), [conversation]

    def _reopen(self, command: cmd.ReopenConversation, now: datetime) -> Handled:
        conversation = self.conversation_of(command.brand_id, command.conversation_id)
        conversation.reopen(reason=command.reason, at=now)
        return self._outcome(conversation, True), [conversation]

    def _claim(self, command: cmd.ClaimConversation, now: datetime) -> Handled:
        conversation = self.conversation_of(command.brand_id, command.conversation_id)
        conversation.claim(command.agent, at=now)
        return self._outcome(conversation, True), [conversation]

    def _prioritize(self, command: cmd.PrioritizeConversation, now: datetime) -> Handled:
        conversation = self.conversation_of(command.brand_id, command.conversation_id)
        changed = conversation.prioritize(command.priority, at=now)
        return self._outcome(conversation, changed), [conversation]

    def _update_contact(self, command: cmd.UpdateContact, now: datetime) -> Handled:
        contact = self.contact_of(command.brand_id, command.contact_id)
        changed = False
        if "name" in command.model_fields_set:
            changed |= contact.rename(command.name, at=now)
        for key, value in command.attributes.items():
            changed |= contact.set_attribute(key, value, at=now)
        outcome = cmd.Outcome(changed=changed, brand_id=contact.brand_id, contact_id=contact.id)
        return outcome, [contact]

    def _configure_queue(self, command: cmd.ConfigureQueue, now: datetime) -> Handled:
        brand = self.get(Brand, command.brand_id)
        changed = brand.configure_queue(command.first_response_minutes, at=now)
        return cmd.Outcome(changed=changed, brand_id=brand.id), [brand]

    def _set_capacity(self, command: cmd.SetAgentCapacity, now: datetime) -> Handled:
        brand = self.get(Brand, command.brand_id)
        changed = brand.set_capacity(command.agent, command.capacity, at=now)
        return cmd.Outcome(changed=changed, brand_id=brand.id), [brand]

    def _add_contact_address(self, command: cmd.AddContactAddress, now: datetime) -> Handled:
        contact = self.contact_of(command.brand_id, command.contact_id)
        address = parse_address(command.address, default_region=self.default_region)
        owner = self.find_contact(contact.brand_id, address)
        outcome = cmd.Outcome(brand_id=contact.brand_id, contact_id=contact.id)
        if owner is not None:
            if owner.id != contact.id:
                raise Conflict("this address belongs to another contact", field="address")
            return outcome.model_copy(update={"changed": False}), []
        contact.add_address(address, at=now)
        entry = IndexEntry.claim(
            IndexKind.CONTACT_ADDRESS, contact_key(contact.brand_id, address), contact.id, at=now
        )
        return outcome, [contact, entry]

    # Decisions shared by the handlers

    def _contact_for(
        self, brand_id: UUID, address: Address, now: datetime
    ) -> tuple[Contact, list[Aggregate]]:
        """The contact at this address, registered (with its index entry) when new."""
        contact = self.find_contact(brand_id, address)
        if contact is not None:
            return contact, []
        contact = Contact.register(brand_id, address, at=now)
        entry = IndexEntry.claim(
            IndexKind.CONTACT_ADDRESS, contact_key(brand_id, address), contact.id, at=now
        )
        return contact, [entry]

    def _current_conversation(self, brand: Brand, contact: Contact, now: datetime) -> Conversation:
        """The contact's current conversation, or a new one when the last was resolved
        longer ago than the brand's reopen window."""
        window = timedelta(hours=brand.reopen_window_hours)
        if contact.current_conversation_id is not None:
            current = self.get(Conversation, contact.current_conversation_id)
            if current.takes_new_message(at=now, reopen_window=window):
                return current
        conversation_id, number = contact.start_conversation(at=now)
        return Conversation.open(conversation_id, brand.id, contact.id, number, at=now)

    def _pick_channel(self, brand: Brand, kind: AddressKind, forced: Channel | None) -> Channel:
        if forced is not None:
            if CHANNEL_ADDRESS_KIND[forced] is not kind:
                raise InvalidInput(
                    f"{forced.value} cannot reach {_an(kind)} address", field="channel"
                )
            if forced not in brand.senders:
                raise InvalidInput(f"the brand has no {forced.value} sender", field="channel")
            return forced
        for channel in channels_reaching(kind, brand.channel_order):
            if channel in brand.senders:
                return channel
        raise InvalidInput(f"the brand has no channel that reaches {_an(kind)} address", field="to")

    def _reply_channel(self, brand: Brand, contact: Contact, conversation: Conversation) -> Channel:
        inbound = [m for m in conversation.messages.values() if m.direction == "inbound"]
        if inbound and inbound[-1].channel in brand.senders:
            return inbound[-1].channel
        for channel in brand.channel_order:
            if channel in brand.senders and contact.address_of(CHANNEL_ADDRESS_KIND[channel]):
                return channel
        raise InvalidInput("no channel of the brand reaches this contact", field="channel")

    @staticmethod
    def _sender(brand: Brand, channel: Channel) -> str:
        sender = brand.sender_for(channel)
        if sender is None:
            raise InvalidInput(f"the brand has no {channel.value} sender", field="channel")
        return sender

    def _route(self, command: cmd.ReceiveMessage) -> UUID:
        try:
            address = sender_key(command.channel, command.recipient, self.default_region)
        except InvalidInput as exc:
            raise InvalidInput(f"unreadable destination: {exc.detail}", field="recipient") from None
        owner = self.find(
            IndexEntry, entry_id(IndexKind.SENDER_ADDRESS, f"{command.channel}:{address}")
        )
        if owner is None:
            raise InvalidInput(
                f"no brand owns the {command.channel.value} address {address}", field="recipient"
            )
        return owner.target_id

    def _hinted(self, command: cmd.ReceiveMessage, sender: Address) -> Conversation | None:
        """The conversation the channel says this answers, if the sender is its contact.

        A signed reply address or an In-Reply-To naming one of our messages is a strong
        hint; it is ignored when the sender is someone else, so a hint never lets a
        stranger into another person's conversation.
        """
        candidates: list[UUID] = []
        if command.conversation_hint is not None:
            candidates.append(command.conversation_hint)
        for replied in command.replies_to:
            key = outbound_key(command.provider, replied)
            entry = self.find(IndexEntry, entry_id(IndexKind.PROVIDER_MESSAGE, key))
            if entry is not None:
                candidates.append(entry.target_id)
        for conversation_id in candidates:
            conversation = self.find(Conversation, conversation_id)
            if conversation is None:
                continue
            contact = self.get(Contact, conversation.contact_id)
            if sender in contact.addresses:
                return conversation
        return None

    def email_thread(self, conversation_id: UUID) -> list[str]:
        """The provider ids (Message-IDs) of a conversation's emails, oldest first."""
        conversation = self.find(Conversation, conversation_id)
        if conversation is None:
            return []
        return [
            m.provider_message_id
            for m in conversation.messages.values()
            if m.channel is Channel.EMAIL and m.provider_message_id
        ]

    def owns_sender(self, channel: Channel, raw: str) -> bool:
        try:
            address = sender_key(channel, raw, self.default_region)
        except InvalidInput:
            return False
        key = f"{channel}:{address}"
        return self.find(IndexEntry, entry_id(IndexKind.SENDER_ADDRESS, key)) is not None

    def _inbound_sender(self, command: cmd.ReceiveMessage) -> Address:
        kind = CHANNEL_ADDRESS_KIND[command.channel]
        if kind is AddressKind.EMAIL:
            return parse_email(command.sender, field="sender")
        return parse_phone(command.sender, default_region=self.default_region, field="sender")

    def _refuse(
        self, command: cmd.ReceiveMessage, message_id: UUID, reason: str, now: datetime
    ) -> Handled:
        refusal = RefusedInbound.refuse(
            message_id,
            provider=command.provider,
            provider_message_id=command.provider_message_id,
            channel=command.channel.value,
            sender=command.sender,
            recipient=command.recipient,
            body=command.body,
            reason=reason,
            at=now,
        )
        return cmd.Outcome(changed=True, refused=reason), [refusal]

    @staticmethod
    def _outcome(conversation: Conversation, changed: bool) -> cmd.Outcome:
        return cmd.Outcome(
            changed=changed,
            brand_id=conversation.brand_id,
            contact_id=conversation.contact_id,
            conversation_id=conversation.id,
        )

    def _save_or_conflict(self, *aggregates: Aggregate, what: str) -> None:
        try:
            self.save(*aggregates)
        except RecordConflictError:
            raise Conflict(f"{what} was registered concurrently; look again") from None


def contact_key(brand_id: UUID, address: Address) -> str:
    """The contact-address index key: one contact per address within a brand."""
    return f"{brand_id}:{address}"


def inbound_key(provider: str, provider_message_id: str) -> str:
    """The provider-message index key of an inbound message (deduplication)."""
    return f"in:{provider}:{provider_message_id}"


def outbound_key(provider: str, segment_id: str) -> str:
    """The provider-message index key of one sent segment (receipts find the message)."""
    return f"out:{provider}:{segment_id}"


def _an(kind: AddressKind) -> str:
    return f"an {kind.value}" if kind.value[0] in "aeiou" else f"a {kind.value}"


def sender_key(channel: Channel, raw: str, default_region: str) -> str:
    """A brand's own address on a channel, normalised (an RCS agent id is kept as it is)."""
    if channel is Channel.RCS:
        agent = raw.strip()
        if not agent:
            raise InvalidInput("must not be empty", field="address")
        return agent
    if channel is Channel.EMAIL:
        return parse_email(raw).value
    return parse_phone(raw, default_region=default_region).value
