"""Rows shaped like stored events, for the raw insert limits of both databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

from bench.registry import ROW_BYTES, ROWS_PER_TRANSACTION

TOPIC = "chainon:Conversation.MessageReceived"


def stored_events(count: int, conversations: int) -> list[tuple[uuid.UUID, int, str, bytes]]:
    """``count`` rows of (originator id, version, topic, ``ROW_BYTES`` of state) spread over
    ``conversations`` originators, versions counting up per originator as a store's do."""
    originators = [uuid.uuid4() for _ in range(max(conversations, 1))]
    versions = [0] * len(originators)
    state = os.urandom(ROW_BYTES // 2).hex().encode()[:ROW_BYTES]
    rows = []
    for i in range(count):
        slot = i % len(originators)
        versions[slot] += 1
        rows.append((originators[slot], versions[slot], TOPIC, state))
    return rows


def batches(
    rows: list[tuple[uuid.UUID, int, str, bytes]],
) -> Iterator[list[tuple[uuid.UUID, int, str, bytes]]]:
    for start in range(0, len(rows), ROWS_PER_TRANSACTION):
        yield rows[start : start + ROWS_PER_TRANSACTION]
