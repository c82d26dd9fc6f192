"""Reads never race a decision: many inbound messages to one conversation at once, while
agents read that conversation and its contact, on both stores: no 5xx, every message
recorded once (issue 15, "a read must never race a decision")."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from chainon.api.app import create_app
from chainon.domain import commands as cmd
from chainon.domain import ids
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import BRAND_SMS, CONSUMER, make_settings, register

pytestmark = pytest.mark.asyncio

ROUNDS = 8
AT_ONCE = 8  # the runtime's store threads
# Messages the conversation holds before the bursts: long enough that copying it outlasts
# a thread's time slice, as a busy conversation's does, so a race shows at once.
HISTORY = 60


@pytest.fixture(params=["sqlite", "postgres"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    if request.param == "sqlite":
        settings = make_settings(StoreKind.SQLITE, tmp_path)
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")
        settings = make_settings(StoreKind.POSTGRES, tmp_path, dsn)
    runtime = Runtime(settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
        runtime.close()


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    brand = register(runtime)
    async with httpx.AsyncClient(
        # a failure is an answer (a 500), as a client would see it, not an exception
        transport=httpx.ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {brand.key}"},
        timeout=30,
    ) as client:
        yield client


def inbound_command(runtime: Runtime, provider_id: str) -> tuple[cmd.Command, None]:
    """An inbound message from the consumer, as the sandbox route would have published it."""
    message = cmd.ReceiveMessage(
        provider=runtime.provider.name,
        provider_message_id=provider_id,
        channel=Channel.SMS,
        sender=CONSUMER,
        recipient=BRAND_SMS,
        body=f"message {provider_id}",
    )
    return message, None


async def post_inbound(api: httpx.AsyncClient, provider_id: str) -> httpx.Response:
    payload = {
        "from": CONSUMER,
        "to": BRAND_SMS,
        "body": f"message {provider_id}",
        "provider_message_id": provider_id,
    }
    return await api.post("/v1/sandbox/inbound", json=payload)


async def read_while(api: httpx.AsyncClient, paths: list[str], done: asyncio.Event) -> list[int]:
    """Reads the paths over and over until the writes are done; the statuses it got."""
    statuses: list[int] = []
    while not done.is_set():
        answers = await asyncio.gather(*(api.get(p) for p in paths))
        statuses.extend(a.status_code for a in answers)
    return statuses


async def test_concurrent_inbound_and_reads_on_one_conversation(
    runtime: Runtime, api: httpx.AsyncClient
) -> None:
    """Eight sandbox messages at a time to one conversation (each answer waits for the core,
    reading the conversation as it goes), while an agent reads it and its contact."""
    first = await post_inbound(api, "first")
    assert first.status_code == 202, first.text
    conversation_id = first.json()["conversation_id"]
    contact_id = first.json()["contact_id"]
    earlier = [inbound_command(runtime, f"h-{i}") for i in range(HISTORY)]
    assert all(isinstance(o, cmd.Outcome) for o in runtime.core.handle_many(earlier))
    reads = [f"/v1/conversations/{conversation_id}", f"/v1/contacts/{contact_id}"]

    written: list[httpx.Response] = []
    done = asyncio.Event()
    reader = asyncio.create_task(read_while(api, reads, done))
    try:
        for n in range(ROUNDS):
            burst = (post_inbound(api, f"m-{n}-{i}") for i in range(AT_ONCE))
            written.extend(await asyncio.gather(*burst))
    finally:
        done.set()
    read_statuses = await reader

    assert [r.status_code for r in written] == [202] * ROUNDS * AT_ONCE, [
        r.text for r in written if r.status_code != 202
    ]
    assert {r.json()["conversation_id"] for r in written} == {conversation_id}
    assert not any(r.json()["duplicate"] for r in written)
    assert read_statuses
    assert set(read_statuses) == {200}, Counter(read_statuses)

    sent = {"first"} | {f"h-{i}" for i in range(HISTORY)}
    sent |= {f"m-{n}-{i}" for n in range(ROUNDS) for i in range(AT_ONCE)}
    page = {"limit": 200}  # every message on one page
    conversation = (await api.get(f"/v1/conversations/{conversation_id}", params=page)).json()
    bodies = Counter(m["body"] for m in conversation["messages"] if m["direction"] == "inbound")
    assert bodies == Counter(f"message {p}" for p in sent)
    # The sandbox's own ids are the brand's (the answers name them); the commands published
    # directly, without a brand, keep the provider-wide form.
    expected = Counter(r.json()["message_id"] for r in [first, *written])
    expected.update(
        str(ids.inbound_message_id(runtime.provider.name, f"h-{i}")) for i in range(HISTORY)
    )
    assert received_in_store(runtime, conversation_id) == expected


def received_in_store(runtime: Runtime, conversation_id: str) -> Counter[str]:
    """How many times the store recorded each inbound message of the conversation."""
    events = runtime.core.events.get(originator_id=UUID(conversation_id))
    return Counter(str(e.message_id) for e in events if isinstance(e, Conversation.MessageReceived))
