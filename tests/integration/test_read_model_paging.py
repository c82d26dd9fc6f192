"""Keyset pages of the agent queue and the CRM search, on SQLite and PostgreSQL alike.

Each page starts after the last row of the one before (its ``mark``): together the pages
give every row once, in the order of one long page, ties and never-seen contacts
included, which the two backends order differently unless told.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from chainon.projections import crm_profile as crm
from chainon.projections.agent_queue import AgentQueue, QueueItem, waiting
from chainon.projections.crm_profile import CrmProfile, Profile, ProfileFilter
from chainon.projections.postgres import PostgresReadModels
from chainon.projections.projection import Fact
from chainon.projections.read_model_store import ReadModelStore
from chainon.projections.sqlite import SQLiteReadModels
from tests.conftest import fresh_schema

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
BRAND_ID = uuid4()
BRAND = str(BRAND_ID)
Row = TypeVar("Row")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadModelStore]:
    if request.param == "sqlite":
        store: ReadModelStore = SQLiteReadModels(tmp_path / "views.sqlite3")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        store = PostgresReadModels(dsn, fresh_schema(dsn), pool_size=1)
    for projection in (AgentQueue(), CrmProfile()):
        store.create(projection)
    yield store
    store.close()


class Facts:
    def __init__(self) -> None:
        self.position = 0
        self.versions: dict[str, int] = {}
        self.all: list[Fact] = []

    def __call__(self, kind: str, aggregate: str, minute: int, **data: Any) -> None:
        self.position += 1
        self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        at = T0 + timedelta(minutes=minute)
        self.all.append(Fact(kind, aggregate, self.versions[aggregate], self.position, at, data))

    def person(self, minute: int, *, writes: bool, priority: int = 0) -> str:
        contact, conversation = str(uuid4()), str(uuid4())
        address = f"+3361200{self.position:04d}"
        registered = {"brand_id": BRAND, "address_kind": "phone", "address": address}
        self("Contact.Registered", contact, minute, **registered)
        opened = {"brand_id": BRAND, "contact_id": contact, "number": 1}
        self("Conversation.Opened", conversation, minute, **opened)
        if writes:
            self("Conversation.MessageReceived", conversation, minute, channel="sms")
        if priority:
            self("Conversation.Prioritized", conversation, minute, priority=priority)
        return conversation


def paged(
    read: Callable[[Any, int], list[Row]], mark: Callable[[Row], Any], size: int
) -> list[list[Row]]:
    """Every page of ``size``, each read after the last row of the one before."""
    pages: list[list[Row]] = []
    after = None
    while True:
        rows = read(after, size + 1)
        pages.append(rows[:size])
        if len(rows) <= size:
            return pages
        after = mark(rows[size - 1])


def test_queue_pages_follow_priority_then_age_then_id(store: ReadModelStore) -> None:
    facts = Facts()
    # Ties on purpose: several at one minute, several at one priority.
    for minute, priority in [(3, 0), (1, 0), (1, 0), (2, 2), (2, 2), (1, 1), (3, 0), (0, 0)]:
        facts.person(minute, writes=True, priority=priority)
    store.apply(AgentQueue(), facts.all)

    def read(after: Any, limit: int) -> list[QueueItem]:
        return waiting(store, BRAND, now=NOW, after=after, limit=limit)

    whole = read(None, 100)
    assert len(whole) == 8
    assert [i.priority for i in whole] == [2, 2, 1, 0, 0, 0, 0, 0]
    for size in (1, 2, 3, 7):
        pages = paged(read, lambda item: item.mark, size)
        assert all(0 < len(page) <= size for page in pages)
        assert [i.conversation_id for p in pages for i in p] == [i.conversation_id for i in whole]


def test_crm_pages_put_never_seen_contacts_last_on_every_backend(store: ReadModelStore) -> None:
    facts = Facts()
    for minute, writes in [(5, True), (1, False), (5, True), (2, True), (3, False), (9, True)]:
        facts.person(minute, writes=writes)
    store.apply(CrmProfile(), facts.all)

    def read(after: Any, limit: int) -> list[Profile]:
        return crm.search(store, ProfileFilter(brand_id=BRAND_ID, after=after, limit=limit))

    whole = read(None, 100)
    seen = [p.last_seen_at for p in whole]
    assert seen[4:] == [None, None]
    assert seen[:4] == sorted((s for s in seen if s is not None), reverse=True)
    for size in (1, 2, 4, 5):
        pages = paged(read, crm.mark, size)
        assert [p.contact_id for page in pages for p in page] == [p.contact_id for p in whole]
