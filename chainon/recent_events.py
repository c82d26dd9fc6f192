"""The events the store's followers of one process decoded lately, by store position.

The relay, the views and the webhooks' outbox each read every stored event. In
``chainon serve``'s child they run side by side, a moment apart, and each decoded (and
decrypted) every event again: a tenth of the child's CPU per inbound message went to the
second and third decodes. They now share what the first one decoded, for the last few
batches; a follower that falls further behind decodes for itself, as before.

The views and the webhooks' outbox also share the fact each event becomes (its public data
turned into JSON types, a third of a feed's CPU per event): the second feed to read a
position takes the first one's. A decoded event and a fact are read, never changed, by
their followers. A contact's erasure forgets everything held: what a follower decodes
afterwards is read with the key gone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, StoredEvent

from chainon.domain.contact import Contact
from chainon.projections.facts import Decode, fact_from_store
from chainon.projections.projection import Fact

HELD = 4000  # events: a few of the followers' batches


class RecentEvents:
    def __init__(self, decode: Decode, held: int = HELD) -> None:
        self.decode = decode
        self.held = held
        self._events: OrderedDict[int, DomainEventProtocol[UUID]] = OrderedDict()
        self._facts: OrderedDict[int, Fact] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def __call__(self, stored: StoredEvent) -> DomainEventProtocol[UUID]:
        if not isinstance(stored, Notification):  # an aggregate's load: no position
            return self.decode(stored)
        with self._lock:
            event = self._events.get(stored.id)
        if event is not None and event.originator_version == stored.originator_version:
            self.hits += 1
            return event
        event = self.decode(stored)
        with self._lock:
            if isinstance(event, Contact.ContactErased):
                self._events.clear()
                self._facts.clear()
                return event
            self._events[stored.id] = event
            while len(self._events) > self.held:
                self._events.popitem(last=False)
        return event

    def fact(self, notification: Notification) -> Fact:
        """``fact_from_store`` of the notification, built once for every feed of the process."""
        with self._lock:
            fact = self._facts.get(notification.id)
        if fact is not None and fact.aggregate_version == notification.originator_version:
            self.hits += 1
            return fact
        fact = fact_from_store(self, notification)
        if fact.type == _ERASED:
            return fact  # its decode forgot everything held; nothing older is kept either
        with self._lock:
            self._facts[notification.id] = fact
            while len(self._facts) > self.held:
                self._facts.popitem(last=False)
        return fact


_ERASED = Contact.ContactErased.TOPIC.removeprefix("chainon:")
