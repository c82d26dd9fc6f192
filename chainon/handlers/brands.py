"""Brands: an operator's actions (register, add a sender, route a sender to a link),
not brand-scoped commands. Each returns what to save; the core saves it, answering a
concurrent twin as a conflict."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from chainon.domain import ids
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.errors import Conflict, InvalidInput
from chainon.domain.index import IndexEntry, IndexKind, sender_key
from chainon.domain.routing import sender_address
from chainon.handlers.loading import Loader, find_entry


def register(
    loader: Loader,
    *,
    slug: str,
    name: str,
    senders: list[tuple[Channel, str]],
    options: dict[str, Any],
    now: datetime,
) -> tuple[Brand, list[IndexEntry]]:
    if loader.find(Brand, ids.brand_id(slug)) is not None:
        raise Conflict(f"a brand {slug!r} exists already", field="slug")
    brand = Brand.register(slug=slug, name=name, at=now, **options)
    return brand, [claim_sender(loader, brand, channel, raw, now) for channel, raw in senders]


def claim_sender(
    loader: Loader, brand: Brand, channel: Channel, raw: str, now: datetime
) -> IndexEntry:
    """The brand's new sender, claimed in the index: an address belongs to one brand."""
    address = sender_address(channel, raw, loader.default_region)
    key = sender_key(channel, address)
    if find_entry(loader, IndexKind.SENDER_ADDRESS, key) is not None:
        raise Conflict(f"{address} is already a {channel.value} sender", field="senders")
    brand.add_sender(channel, address, at=now)
    return IndexEntry.claim(IndexKind.SENDER_ADDRESS, key, brand.id, at=now)


def route(
    loader: Loader,
    brand: Brand,
    channel: Channel,
    raw: str,
    provider: str,
    now: datetime,
    links: Collection[str] | None = None,
) -> None:
    """Routes the sender to a provider link; with ``links`` (those the deployment runs),
    a link outside them is refused: its messages would only be dead-lettered."""
    address = sender_address(channel, raw, loader.default_region)
    if links is not None and provider not in links:
        known = ", ".join(sorted(links))
        raise InvalidInput(
            f"no provider link {provider!r} is configured (configured: {known}); "
            "--force routes to it all the same, ahead of a deploy",
            field="provider",
        )
    brand.route(channel, address, provider, at=now)


def owns(loader: Loader, channel: Channel, raw: str) -> bool:
    """Whether some brand sends from this address (a provider's webhook checks it)."""
    try:
        address = sender_address(channel, raw, loader.default_region)
    except InvalidInput:
        return False
    return find_entry(loader, IndexKind.SENDER_ADDRESS, sender_key(channel, address)) is not None
