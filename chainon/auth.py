"""API keys: issued to a brand, revoked, and checked on every request.

A key is ``chn_<id>_<secret>``; only its hash is stored on the brand, and an index entry
leads from the key id to the brand. Accepted keys are remembered briefly (see
``chainon.key_cache`` for how soon a revocation made elsewhere applies).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.key_cache import KeyCache
from domain.brand import Brand
from domain.errors import NotFound
from domain.index import IndexEntry, IndexKind, entry_id

A = TypeVar("A", bound=Aggregate)


class Store(Protocol):
    def find(self, cls: type[A], aggregate_id: UUID) -> A | None: ...

    def save_or_conflict(self, *aggregates: Aggregate, what: str) -> None: ...


def hash_api_key(key: str) -> str:
    # Keys carry 190 bits of randomness, so a fast hash is enough (as for GitHub tokens).
    return hashlib.sha256(key.encode()).hexdigest()


def split_api_key(key: str) -> str | None:
    """The key id inside ``chn_<id>_<secret>``, or None when it is not of that shape."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "chn" or len(parts[1]) != 12:
        return None
    return parts[1]


class ApiKeys:
    def __init__(self, store: Store, clock: Callable[[], datetime], cache: KeyCache) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache

    def _brand(self, brand_id: UUID) -> Brand:
        brand = self.store.find(Brand, brand_id)
        if brand is None:
            raise NotFound(f"no brand {brand_id}")
        return brand

    def issue(self, brand_id: UUID, label: str = "default") -> str:
        """Returns the new key; only its hash is stored, so this is the one time it is seen."""
        now = self.clock()
        brand = self._brand(brand_id)
        key_id = secrets.token_hex(6)
        key = f"chn_{key_id}_{secrets.token_urlsafe(24)}"
        brand.issue_key(key_id, hash_api_key(key), label, at=now)
        claim = IndexEntry.claim(IndexKind.API_KEY, key_id, brand.id, at=now)
        self.store.save_or_conflict(brand, claim, what="api key")
        return key

    def revoke(self, brand_id: UUID, key_id: str) -> None:
        brand = self._brand(brand_id)
        brand.revoke_key(key_id, at=self.clock())
        self.store.save_or_conflict(brand, what="the key's revocation")

    def remembered(self, key: str) -> Brand | None:
        """The key's brand if this process accepted the key within the cache's time; no
        store read, so it may run on the event loop."""
        return self.cache.get(hash_api_key(key)) if self.cache.enabled else None

    def authenticate(self, key: str) -> Brand | None:
        """The key's brand, or None. The brand may come from the cache: callers read it
        and never change it."""
        key_id = split_api_key(key)
        if key_id is None:
            return None
        key_hash = hash_api_key(key)
        remembered = self.cache.get(key_hash)
        if remembered is not None:
            return remembered
        generation = self.cache.generation
        entry = self.store.find(IndexEntry, entry_id(IndexKind.API_KEY, key_id))
        if entry is None:
            return None
        brand = self._brand(entry.target_id)
        if not brand.accepts_key(key_id, key_hash):
            return None
        self.cache.put(key_hash, brand, generation)
        return brand
