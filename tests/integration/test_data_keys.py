"""The contacts' data keys on both stores: a batch is answered in one read and its missing
keys made in one transaction, each key the same however it is asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from chainon.adapters.persistence.port import DataKeys, data_keys_of
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import make_settings


@pytest.fixture(params=[StoreKind.SQLITE, StoreKind.POSTGRES])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DataKeys, DataKeys]]:
    """Two handles on one store's keys, as two processes would hold them."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param is StoreKind.POSTGRES else None
    runtime = Runtime(make_settings(request.param, tmp_path, dsn))
    try:
        recorder = runtime.core.recorder
        yield data_keys_of(recorder), data_keys_of(recorder)
    finally:
        runtime.close()


def test_a_batch_makes_the_missing_keys_and_returns_the_held_ones_unchanged(
    stores: tuple[DataKeys, DataKeys],
) -> None:
    keys, _ = stores
    old = [uuid4() for _ in range(3)]
    held = {i: keys.key_of(i) for i in old}
    new = [uuid4() for _ in range(1200)]  # past one query's page of ids
    batch = keys.keys_of([*old, *new, old[0]])
    assert set(batch) == {*old, *new}
    assert all(batch[i] == held[i] for i in old)
    assert len({k.key_id for k in batch.values()}) == len(batch)  # one key per contact
    assert all(len(k.secret) == 32 for k in batch.values())
    assert {i: keys.key_of(i) for i in new} == {i: batch[i] for i in new}
    assert keys.find(batch[new[-1]].key_id) == batch[new[-1]].secret


def test_a_key_made_elsewhere_first_is_the_one_a_batch_returns(
    stores: tuple[DataKeys, DataKeys],
) -> None:
    mine, theirs = stores
    contact = uuid4()
    theirs_first = theirs.key_of(contact)
    assert mine.keys_of([contact, uuid4()])[contact] == theirs_first


def test_a_destroyed_key_is_made_anew_by_a_batch(stores: tuple[DataKeys, DataKeys]) -> None:
    keys, _ = stores
    contact = uuid4()
    first = keys.key_of(contact)
    assert keys.destroy(contact) == 1
    again = keys.keys_of([contact])[contact]
    assert again.key_id != first.key_id
    assert keys.find(first.key_id) is None
