"""The events the store's followers of one process decoded lately, by store position.

The relay, the views and the webhooks' outbox each read every stored event. In
``chainon serve``'s child they run side by side, a moment apart, and each decoded (and
decrypted) every event again: a tenth of the child's CPU per inbound message went to the
second and third decodes. They now share what the first one decoded, for the last few
batches; a follower that falls further behind decodes for itself, as before.

A decoded event is read, never changed, by its followers. A contact's erasure forgets
everything held: what a follower decodes afterwards is read with the key gone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, StoredEvent

from chainon.domain.contact import Contact
from chainon.projections.facts import Decode

HELD = 4000  # events: a few of the followers' batches


class RecentEvents:
    def __init__(self, decode: Decode, held: int = HELD) -> None:
        self.decode = decode
        self.held = held
        self._events: OrderedDict[int, DomainEventProtocol[UUID]] = OrderedDict()
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
                return event
            self._events[stored.id] = event
            while len(self._events) > self.held:
                self._events.popitem(last=False)
        return event
