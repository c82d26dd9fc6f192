"""API keys: issued to a brand or one of its agents, revoked, and checked on every request.

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

from chainon.domain.access import Role, Scope
from chainon.domain.brand import Brand
from chainon.domain.errors import Conflict, NotFound
from chainon.domain.index import IndexEntry, IndexKind, entry_id
from chainon.key_cache import KeyCache

A = TypeVar("A", bound=Aggregate)


class Store(Protocol):
    def find(self, cls: type[A], aggregate_id: UUID) -> A | None: ...

    def save_or_conflict(self, *aggregates: Aggregate, what: str) -> None: ...


class KeyExpired(Exception):
    """A brand's key, past the expiry it was issued with: refused, and told so."""

    def __init__(self, key_id: str, expires_at: datetime) -> None:
        super().__init__(f"API key {key_id} expired at {expires_at.isoformat()}")
        self.key_id = key_id
        self.expires_at = expires_at


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

    def issue(
        self,
        brand_id: UUID,
        label: str = "default",
        expires_at: datetime | None = None,
        scopes: tuple[str, ...] = (Scope.ADMIN.value,),
    ) -> str:
        """Returns the new key; only its hash is stored, so this is the one time it is seen."""
        brand = self._brand(brand_id)
        key, claim = self._new_key(brand, label, expires_at=expires_at, scopes=scopes)
        self.store.save_or_conflict(brand, claim, what="api key")
        return key

    def enroll_agent(
        self, brand_id: UUID, name: str, role: Role, teams: list[str]
    ) -> tuple[Brand, str]:
        """Enrolls a new agent and issues its own key, in one save: the key is returned
        (shown once); its index entry leads to the brand, whose record of the key names
        the agent. An agent enrolled already is a conflict (``change_agent``)."""
        brand = self._brand(brand_id)
        if name in brand.agents:
            raise Conflict(f"agent {name} exists already", field="name")
        brand.enroll_agent(name, role, teams, at=self.clock())
        key, claim = self._new_key(brand, f"agent:{name}", agent=name)
        self.store.save_or_conflict(brand, claim, what="agent")
        return brand, key

    def change_agent(self, brand_id: UUID, name: str, role: Role, teams: list[str]) -> Brand:
        """Sets an enrolled agent's role and teams; its keys follow at once."""
        brand = self._brand(brand_id)
        if name not in brand.agents:
            raise NotFound(f"no agent {name} in this brand", field="name")
        if brand.enroll_agent(name, role, teams, at=self.clock()):
            self.store.save_or_conflict(brand, what="the agent's role")
        return brand

    def _new_key(
        self,
        brand: Brand,
        label: str,
        *,
        expires_at: datetime | None = None,
        scopes: tuple[str, ...] = (Scope.ADMIN.value,),
        agent: str | None = None,
    ) -> tuple[str, IndexEntry]:
        now = self.clock()
        key_id = secrets.token_hex(6)
        key = f"chn_{key_id}_{secrets.token_urlsafe(24)}"
        brand.issue_key(
            key_id,
            hash_api_key(key),
            label,
            at=now,
            expires_at=expires_at,
            scopes=scopes,
            agent=agent,
        )
        return key, IndexEntry.claim(IndexKind.API_KEY, key_id, brand.id, at=now)

    def revoke(self, brand_id: UUID, key_id: str) -> None:
        brand = self._brand(brand_id)
        brand.revoke_key(key_id, at=self.clock())
        self.store.save_or_conflict(brand, what="the key's revocation")

    def _unexpired(self, brand: Brand, key_id: str) -> Brand:
        expires_at = brand.key_expiry.get(key_id)
        if expires_at is not None and self.clock() >= expires_at:
            raise KeyExpired(key_id, expires_at)
        return brand

    def remembered(self, key: str) -> Brand | None:
        """The key's brand if this process accepted the key within the cache's time; no
        store read, so it may run on the event loop. Raises ``KeyExpired``."""
        if not self.cache.enabled:
            return None
        key_id = split_api_key(key)
        remembered = self.cache.get(hash_api_key(key))
        if remembered is None or key_id is None:
            return None
        return self._unexpired(remembered, key_id)

    def authenticate(self, key: str) -> Brand | None:
        """The key's brand, or None; ``KeyExpired`` for a key past its expiry. The brand
        may come from the cache: callers read it and never change it."""
        key_id = split_api_key(key)
        if key_id is None:
            return None
        key_hash = hash_api_key(key)
        remembered = self.cache.get(key_hash)
        if remembered is not None:
            return self._unexpired(remembered, key_id)
        generation = self.cache.generation
        entry = self.store.find(IndexEntry, entry_id(IndexKind.API_KEY, key_id))
        if entry is None:
            return None
        brand = self._brand(entry.target_id)
        if not brand.accepts_key(key_id, key_hash):
            return None
        self.cache.put(key_hash, brand, generation)
        return self._unexpired(brand, key_id)
