"""Idempotent API requests: the first answer to a key is the answer to every retry."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from pydantic_core import PydanticCustomError

from chainon.domain import ids
from chainon.domain.errors import InvalidInput

MAX_KEY_LENGTH = 255
# Printable ASCII (an HTTP header's safe range), neither starting nor ending with a space: a
# blank key would otherwise pass for a key and make unrelated requests one another's retries.
KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"


def checked_key(key: str) -> str:
    """A key as a client may send it, or a refusal in words (a pattern says it to machines)."""
    if len(key) > MAX_KEY_LENGTH or not re.fullmatch(KEY_PATTERN, key):
        raise PydanticCustomError(
            "idempotency_key",
            "must be 1 to {max} printable ASCII characters, not starting or ending with a space",
            {"max": MAX_KEY_LENGTH},
        )
    return key


class IdempotentRequest(Aggregate):
    """Saved in the same transaction as the request's own events.

    Two concurrent requests with one key collide on this aggregate's id: one commits, the
    other retries, finds the record and answers with the first result.
    """

    TOPIC = "chainon:IdempotentRequest"

    class Event(Aggregate.Event):
        TOPIC = "chainon:IdempotentRequest.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "chainon:IdempotentRequest.Created"

    class Answered(Created):
        TOPIC = "chainon:IdempotentRequest.Answered"
        fingerprint: str
        result: dict[str, object]

    @event(Answered)
    def __init__(self, fingerprint: str, result: dict[str, object]) -> None:
        self.fingerprint = fingerprint
        self.result = result

    @classmethod
    def answer(
        cls, brand_id: UUID, key: str, fingerprint: str, result: dict[str, object], *, at: datetime
    ) -> IdempotentRequest:
        return cls._create(
            cls.Answered,
            id=request_id(brand_id, key),
            timestamp=at,
            fingerprint=fingerprint,
            result=result,
        )

    def replay(self, fingerprint: str) -> dict[str, object]:
        if fingerprint != self.fingerprint:
            raise InvalidInput(
                "this key was already used with another request", field="Idempotency-Key"
            )
        return self.result


def request_id(brand_id: UUID, key: str) -> UUID:
    return ids.idempotent_request_id(brand_id, key)
