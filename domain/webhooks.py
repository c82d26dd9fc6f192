"""A brand's webhook endpoints: where its own systems are told what happened.

One aggregate per brand holds every endpoint of that brand, so a lookup by endpoint id is
answered within the brand (another brand's id is simply not there) and the list needs no
index. Its events carry the signing secrets (sealed by the application before they reach
the aggregate: ``chainon.webhooks.sealing``; ``secret`` is whatever it was given), so none
of them is public (``domain.public_events``): they never leave the core.

A rotated secret keeps working for ``ROTATION_OVERLAP``; during that time both are used to
sign, as Standard Webhooks allows several signatures in one header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from chainon.domain import ids
from chainon.domain.errors import InvalidInput, NotFound

# The one list of webhook event types, in the order they are documented: the API's
# validation and the OpenAPI document's ``webhooks`` are read from it.
EventType = Literal[
    "message.received",
    "message.status",
    "conversation.opened",
    "conversation.assigned",
    "conversation.resolved",
    "fallback.triggered",
    "consent.changed",
    "campaign.finished",
    "flow.handed_off",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 20


@dataclass
class Endpoint:
    id: UUID
    url: str
    events: list[str]
    description: str
    secret: str
    created_at: datetime
    enabled: bool = True
    previous_secret: str | None = None
    previous_valid_until: datetime | None = None
    disabled_reason: str = ""

    def secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with at ``now``: the current one first."""
        valid = (
            self.previous_secret and self.previous_valid_until and now < self.previous_valid_until
        )
        return (
            [self.secret, self.previous_secret] if valid and self.previous_secret else [self.secret]
        )

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.events


def checked_url(url: str, *, allow_private: bool) -> str:
    """An endpoint URL's shape: https (plain http only where private addresses are allowed,
    for a receiver on the developer's machine), a host, no credentials."""
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidInput("must be an https URL", field="url")
    if not parts.hostname or parts.username or parts.password:
        raise InvalidInput("must name a host, without credentials", field="url")
    return url


def checked_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})", field="events"
        )
    if not events:
        raise InvalidInput("at least one event type", field="events")
    return sorted(set(events), key=EVENT_TYPES.index)


class WebhookEndpoints(Aggregate):
    TOPIC = "chainon:WebhookEndpoints"

    class Event(Aggregate.Event):
        TOPIC = "chainon:WebhookEndpoints.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:WebhookEndpoints.Created"

    class Opened(Created):
        TOPIC = "chainon:WebhookEndpoints.Opened"
        brand_id: UUID

    class EndpointAdded(Event):
        TOPIC = "chainon:WebhookEndpoints.EndpointAdded"
        endpoint_id: UUID
        url: str
        events: list[str]
        description: str
        secret: str

    class EndpointChanged(Event):
        TOPIC = "chainon:WebhookEndpoints.EndpointChanged"
        endpoint_id: UUID
        url: str
        events: list[str]
        enabled: bool

    class SecretRotated(Event):
        TOPIC = "chainon:WebhookEndpoints.SecretRotated"
        endpoint_id: UUID
        secret: str
        previous_valid_until: datetime

    class EndpointDisabled(Event):
        """Delivery kept failing for the whole retry window: nobody is listening."""

        TOPIC = "chainon:WebhookEndpoints.EndpointDisabled"
        endpoint_id: UUID
        reason: str

    class EndpointRemoved(Event):
        TOPIC = "chainon:WebhookEndpoints.EndpointRemoved"
        endpoint_id: UUID

    @event(Opened)
    def __init__(self, brand_id: UUID) -> None:
        self.brand_id = brand_id
        self.endpoints: dict[UUID, Endpoint] = {}

    @classmethod
    def open(cls, brand_id: UUID, *, at: datetime) -> WebhookEndpoints:
        return cls._create(
            cls.Opened, id=ids.webhook_endpoints_id(brand_id), timestamp=at, brand_id=brand_id
        )

    def endpoint(self, endpoint_id: UUID) -> Endpoint:
        found = self.endpoints.get(endpoint_id)
        if found is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}", field="endpoint_id")
        return found

    def add(
        self,
        endpoint_id: UUID,
        url: str,
        events: list[str],
        description: str,
        secret: str,
        *,
        at: datetime,
    ) -> Endpoint:
        if len(self.endpoints) >= MAX_ENDPOINTS:
            raise InvalidInput(f"at most {MAX_ENDPOINTS} endpoints per brand", field="url")
        self._added(
            endpoint_id=endpoint_id,
            url=url,
            events=checked_events(events),
            description=description,
            secret=secret,
            timestamp=at,
        )
        return self.endpoints[endpoint_id]

    @event(EndpointAdded)
    def _added(
        self,
        endpoint_id: UUID,
        url: str,
        events: list[str],
        description: str,
        secret: str,
        timestamp: datetime,
    ) -> None:
        self.endpoints[endpoint_id] = Endpoint(
            endpoint_id, url, list(events), description, secret, created_at=timestamp
        )

    def change(
        self,
        endpoint_id: UUID,
        *,
        url: str | None,
        events: list[str] | None,
        enabled: bool | None,
        at: datetime,
    ) -> Endpoint:
        found = self.endpoint(endpoint_id)
        self._changed(
            endpoint_id=endpoint_id,
            url=found.url if url is None else url,
            events=found.events if events is None else checked_events(events),
            enabled=found.enabled if enabled is None else enabled,
            timestamp=at,
        )
        return found

    @event(EndpointChanged)
    def _changed(
        self, endpoint_id: UUID, url: str, events: list[str], enabled: bool, timestamp: datetime
    ) -> None:
        found = self.endpoints[endpoint_id]
        found.url, found.events, found.enabled = url, list(events), enabled
        if enabled:
            found.disabled_reason = ""

    def rotate(self, endpoint_id: UUID, secret: str, *, at: datetime) -> Endpoint:
        self.endpoint(endpoint_id)
        self._rotated(
            endpoint_id=endpoint_id,
            secret=secret,
            previous_valid_until=at + ROTATION_OVERLAP,
            timestamp=at,
        )
        return self.endpoints[endpoint_id]

    @event(SecretRotated)
    def _rotated(
        self, endpoint_id: UUID, secret: str, previous_valid_until: datetime, timestamp: datetime
    ) -> None:
        found = self.endpoints[endpoint_id]
        found.previous_secret, found.secret = found.secret, secret
        found.previous_valid_until = previous_valid_until

    def disable(self, endpoint_id: UUID, reason: str, *, at: datetime) -> bool:
        found = self.endpoints.get(endpoint_id)
        if found is None or not found.enabled:
            return False
        self._disabled(endpoint_id=endpoint_id, reason=reason, timestamp=at)
        return True

    @event(EndpointDisabled)
    def _disabled(self, endpoint_id: UUID, reason: str, timestamp: datetime) -> None:
        found = self.endpoints[endpoint_id]
        found.enabled, found.disabled_reason = False, reason

    def remove(self, endpoint_id: UUID, *, at: datetime) -> None:
        self.endpoint(endpoint_id)
        self._removed(endpoint_id=endpoint_id, timestamp=at)

    @event(EndpointRemoved)
    def _removed(self, endpoint_id: UUID, timestamp: datetime) -> None:
        del self.endpoints[endpoint_id]
