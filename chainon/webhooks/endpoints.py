"""A brand's endpoints read and changed on the store: the API and the CLI share these."""

from __future__ import annotations

import base64
import dataclasses
import secrets
from datetime import UTC, datetime
from uuid import UUID, uuid4

from chainon.core import Core
from chainon.domain import ids
from chainon.domain.webhooks import Endpoint, WebhookEndpoints, checked_url
from chainon.webhooks.sealing import SecretBox

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """24 random bytes, base64, as Standard Webhooks libraries expect after ``whsec_``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def now() -> datetime:
    return datetime.now(UTC)


def endpoints_of(core: Core, brand_id: UUID) -> WebhookEndpoints | None:
    return core.find(WebhookEndpoints, ids.webhook_endpoints_id(brand_id))


def listed(core: Core, brand_id: UUID) -> list[Endpoint]:
    found = endpoints_of(core, brand_id)
    return sorted(found.endpoints.values(), key=lambda e: e.created_at) if found else []


def get(core: Core, brand_id: UUID, endpoint_id: UUID) -> Endpoint:
    found = endpoints_of(core, brand_id) or WebhookEndpoints.open(brand_id, at=now())
    return found.endpoint(endpoint_id)


def add(
    core: Core,
    brand_id: UUID,
    url: str,
    events: list[str],
    description: str,
    *,
    allow_private: bool,
    box: SecretBox,
) -> Endpoint:
    """The endpoint added, with its secret in clear (the store holds it sealed): the one
    time it is shown."""
    at, secret = now(), new_secret()
    held = endpoints_of(core, brand_id) or WebhookEndpoints.open(brand_id, at=at)
    endpoint = held.add(
        uuid4(),
        checked_url(url, allow_private=allow_private),
        events,
        description,
        box.seal(secret),
        at=at,
    )
    core.save_or_conflict(held, what="webhook endpoints")
    return dataclasses.replace(endpoint, secret=secret)


def change(
    core: Core,
    brand_id: UUID,
    endpoint_id: UUID,
    *,
    url: str | None,
    events: list[str] | None,
    enabled: bool | None,
    allow_private: bool,
) -> Endpoint:
    held = _held(core, brand_id, endpoint_id)
    if url is not None:
        checked_url(url, allow_private=allow_private)
    endpoint = held.change(endpoint_id, url=url, events=events, enabled=enabled, at=now())
    core.save_or_conflict(held, what="webhook endpoints")
    return endpoint


def rotate(core: Core, brand_id: UUID, endpoint_id: UUID, *, box: SecretBox) -> Endpoint:
    """The endpoint with its new secret in clear, shown this once."""
    held, secret = _held(core, brand_id, endpoint_id), new_secret()
    endpoint = held.rotate(endpoint_id, box.seal(secret), at=now())
    core.save_or_conflict(held, what="webhook endpoints")
    return dataclasses.replace(endpoint, secret=secret, previous_secret=None)


def opened(endpoint: Endpoint, box: SecretBox) -> Endpoint:
    """The endpoint with its secrets in clear, to sign with (``WrongKey`` if they cannot
    be opened)."""
    previous = endpoint.previous_secret
    return dataclasses.replace(
        endpoint,
        secret=box.open(endpoint.secret),
        previous_secret=box.open(previous) if previous else None,
    )


def remove(core: Core, brand_id: UUID, endpoint_id: UUID) -> None:
    held = _held(core, brand_id, endpoint_id)
    held.remove(endpoint_id, at=now())
    core.save_or_conflict(held, what="webhook endpoints")


def disable(core: Core, brand_id: UUID, endpoint_id: UUID, reason: str) -> bool:
    held = endpoints_of(core, brand_id)
    if held is None or not held.disable(endpoint_id, reason, at=now()):
        return False
    core.save_or_conflict(held, what="webhook endpoints")
    return True


def _held(core: Core, brand_id: UUID, endpoint_id: UUID) -> WebhookEndpoints:
    held = endpoints_of(core, brand_id) or WebhookEndpoints.open(brand_id, at=now())
    held.endpoint(endpoint_id)  # NotFound: another brand's id answers the same
    return held
