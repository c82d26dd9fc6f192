"""Idempotent requests: one record per (brand, key), the first answer given to every retry
of the same request, and a reused key with another request refused."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.errors import InvalidInput
from chainon.domain.idempotency import IdempotentRequest, request_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESULT: dict[str, object] = {"conversation_id": str(uuid4()), "status": "queued", "segments": 2}


def test_the_record_id_is_made_from_brand_and_key() -> None:
    brand_id = uuid4()
    assert request_id(brand_id, "k-1") == request_id(brand_id, "k-1")
    assert request_id(brand_id, "k-1") != request_id(brand_id, "k-2")
    assert request_id(brand_id, "k-1") != request_id(uuid4(), "k-1")  # keys are per brand
    answered = IdempotentRequest.answer(brand_id, "k-1", "fp", RESULT, at=T0)
    assert answered.id == request_id(brand_id, "k-1")
    assert [type(e) for e in answered.collect_events()] == [IdempotentRequest.Answered]


def test_a_retry_of_the_same_request_gets_the_first_answer() -> None:
    answered = IdempotentRequest.answer(uuid4(), "k-1", "sha256:abc", RESULT, at=T0)
    assert answered.replay("sha256:abc") == RESULT


def test_the_same_key_with_another_request_is_refused() -> None:
    answered = IdempotentRequest.answer(uuid4(), "k-1", "sha256:abc", RESULT, at=T0)
    with pytest.raises(InvalidInput) as refused:
        answered.replay("sha256:def")
    assert refused.value.field == "Idempotency-Key"


def test_the_stored_record_answers_as_the_new_one() -> None:
    brand_id = uuid4()
    app = Application()
    app.save(IdempotentRequest.answer(brand_id, "k-1", "sha256:abc", RESULT, at=T0))
    stored = app.repository.get(request_id(brand_id, "k-1"))
    assert isinstance(stored, IdempotentRequest)
    assert stored.replay("sha256:abc") == RESULT
    with pytest.raises(InvalidInput):
        stored.replay("sha256:other")


@given(st.text(min_size=1, max_size=255), st.text(min_size=1, max_size=255))
def test_two_different_keys_never_share_a_record(a: str, b: str) -> None:
    brand_id = uuid4()
    assert (request_id(brand_id, a) == request_id(brand_id, b)) == (a == b)
