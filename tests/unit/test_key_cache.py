"""The API key cache alone: what it remembers, on a clock the test moves."""

from __future__ import annotations

from uuid import uuid4

from chainon.domain.brand import Brand
from chainon.key_cache import KeyCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_brand_loaded_before_a_change_is_not_remembered_after_it() -> None:
    cache = KeyCache(60, clock=Clock())
    brand = Brand.__new__(Brand)
    generation = cache.generation
    cache.forget_brand(uuid4())  # a brand saved meanwhile
    cache.put("hash", brand, generation)
    assert cache.get("hash") is None
