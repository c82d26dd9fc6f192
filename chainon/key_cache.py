"""API keys this process accepted, remembered briefly so a request costs no store read.

Authenticating a key loads its index entry and its brand: two aggregate loads and a thread
hop on every request. An accepted key is remembered for ``ttl`` seconds (refusals are not:
a key issued a moment ago works at once). What that costs:

- a change to a brand saved by this process (a revoked key, a new sender) forgets that
  brand's keys at once: the next request loads the brand again;
- a change saved by another process (``chainon brands keys --revoke`` run beside the
  server, another API process) takes effect here within ``ttl`` seconds at most;
- ``ttl`` 0 turns the cache off (every request reads the store, as before).

Keys are looked up by their SHA-256, never compared as given: how long a lookup takes
could at most tell a caller about the hash of its own guess, which says nothing of any
key (the brand's stored hash is compared in constant time, ``Brand.accepts_key``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

from chainon.domain.brand import Brand


class KeyCache:
    def __init__(
        self, ttl: float, *, size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        # the key's hash → (when it expires, its brand); never the key itself
        self._keys: OrderedDict[str, tuple[float, Brand]] = OrderedDict()
        # Bumped by every forget: a brand loaded before a change is not remembered after it.
        self.generation = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key_hash: str) -> Brand | None:
        if not self.enabled:
            return None
        with self._lock:
            found = self._keys.get(key_hash)
            if found is None:
                return None
            if self.clock() >= found[0]:
                del self._keys[key_hash]
                return None
            return found[1]

    def put(self, key_hash: str, brand: Brand, generation: int) -> None:
        """Remembers ``brand``, unless a brand changed since ``generation`` was read
        (before ``brand`` was loaded): it may be the state from before that change."""
        if not self.enabled:
            return
        with self._lock:
            if generation != self.generation:
                return
            self._keys[key_hash] = (self.clock() + self.ttl, brand)
            self._keys.move_to_end(key_hash)
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)

    def forget_brand(self, brand_id: UUID) -> None:
        with self._lock:
            self.generation += 1
            for key_hash in [h for h, (_, b) in self._keys.items() if b.id == brand_id]:
                del self._keys[key_hash]
