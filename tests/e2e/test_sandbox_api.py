"""The sandbox through the API is each brand's own: provider ids and outcomes are per brand.

Two brands share one sandbox (one process, one provider): a provider id one brand chose
never makes another brand's message a duplicate, nor answers with the first brand's ids,
and an outcome one brand sets for an address leaves the other brand's messages alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chainon.adapters.channels.sandbox import PROVIDER
from chainon.api.app import create_app
from chainon.domain import ids
from chainon.domain.channels import Channel
from chainon.domain.index import IndexEntry, IndexKind, entry_id, inbound_key
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey, register

pytestmark = pytest.mark.asyncio

OTHER_SMS = "+33939000222"
CONSUMER = "+33612345678"


@pytest.fixture
async def two(
    sqlite_runtime: Runtime, brand: BrandWithKey
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two brands' clients: the ``brand`` fixture's, then a second brand's."""
    other = register(sqlite_runtime, slug="atelier-rival", sms=OTHER_SMS)
    app = create_app(runtime=sqlite_runtime)
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://chainon.test",
            headers={"Authorization": f"Bearer {key}"},
        )
        for key in (brand.key, other.key)
    ]
    async with clients[0] as first, clients[1] as second:
        yield first, second


async def inbound(api: httpx.AsyncClient, to: str, body: str, **extra: Any) -> dict[str, Any]:
    payload = {"from": CONSUMER, "to": to, "body": body, **extra}
    response = await api.post("/v1/sandbox/inbound", json=payload)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_another_brand_reusing_a_provider_id_gets_its_own_message(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = two
    mine = await inbound(first, BRAND_SMS, "Bonjour", provider_message_id="smsc-1")
    theirs = await inbound(second, OTHER_SMS, "Salut", provider_message_id="smsc-1")

    assert theirs["duplicate"] is False
    ids_of = ("conversation_id", "contact_id", "message_id")
    assert all(theirs[k] != mine[k] for k in ids_of)
    conversation = (await second.get(f"/v1/conversations/{theirs['conversation_id']}")).json()
    assert [m["body"] for m in conversation["messages"]] == ["Salut"]
    assert conversation["messages"][0]["provider_message_id"] == "smsc-1"
    # The first brand neither sees the second's message nor lost its own.
    hidden = await first.get(f"/v1/conversations/{theirs['conversation_id']}")
    assert hidden.status_code == 404
    own = (await first.get(f"/v1/conversations/{mine['conversation_id']}")).json()
    assert [m["body"] for m in own["messages"]] == ["Bonjour"]

    # Each brand's retry is a duplicate answered with that brand's own ids.
    again = await inbound(second, OTHER_SMS, "Salut", provider_message_id="smsc-1")
    assert again["duplicate"] is True
    assert {k: again[k] for k in ids_of} == {k: theirs[k] for k in ids_of}
    again = await inbound(first, BRAND_SMS, "Bonjour", provider_message_id="smsc-1")
    assert again["duplicate"] is True
    assert {k: again[k] for k in ids_of} == {k: mine[k] for k in ids_of}


async def test_a_sandbox_message_stored_before_ids_were_per_brand_is_still_its_brands(
    sqlite_runtime: Runtime,
    two: tuple[httpx.AsyncClient, httpx.AsyncClient],
    brand: BrandWithKey,
) -> None:
    """A message recorded under the key every provider has (``in:sandbox:…``), as the
    sandbox stored them before: a retry by its brand is a duplicate, with its old ids;
    another brand with the same id sends a message of its own."""
    first, second = two
    legacy = await sqlite_runtime.provider.inject_inbound(
        sender=CONSUMER, recipient=BRAND_SMS, body="Ancien", provider_message_id="old-7"
    )
    recorded = await sqlite_runtime.recorded(legacy)
    assert recorded is not None
    assert recorded.message_id == ids.inbound_message_id(PROVIDER, "old-7")
    stored = entry_id(IndexKind.PROVIDER_MESSAGE, inbound_key(PROVIDER, "old-7"))
    assert sqlite_runtime.core.find(IndexEntry, stored) is not None

    retry = await inbound(first, BRAND_SMS, "Ancien", provider_message_id="old-7")
    assert retry["duplicate"] is True
    assert retry["message_id"] == str(recorded.message_id)
    assert retry["conversation_id"] == str(recorded.conversation_id)

    theirs = await inbound(second, OTHER_SMS, "Nouveau", provider_message_id="old-7")
    assert theirs["duplicate"] is False
    assert theirs["conversation_id"] != str(recorded.conversation_id)
    assert theirs["message_id"] != str(recorded.message_id)


async def test_the_core_refuses_a_brands_sandbox_message_to_another_brands_address(
    sqlite_runtime: Runtime, brand: BrandWithKey
) -> None:
    """The API checks the address first; the core checks again, for whatever else puts a
    sandbox message on the bus with a brand."""
    other = register(sqlite_runtime, slug="atelier-rival", sms=OTHER_SMS)
    sent = await sqlite_runtime.provider.inject_inbound(
        sender=CONSUMER, recipient=BRAND_SMS, body="x", brand_id=other.id
    )
    refused = await sqlite_runtime.recorded(sent)
    assert refused is not None
    assert refused.refused == f"{BRAND_SMS} is not an address of the sending brand"
    assert refused.conversation_id is None


async def test_an_outcome_one_brand_sets_leaves_the_other_brands_messages_alone(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient], sqlite_runtime: Runtime
) -> None:
    first, second = two
    told = await first.put(f"/v1/sandbox/outcomes/{CONSUMER}", json={"outcome": "fail"})
    assert told.status_code == 204

    failing = (await first.post("/v1/messages", json={"to": CONSUMER, "body": "a"})).json()
    going = (await second.post("/v1/messages", json={"to": CONSUMER, "body": "b"})).json()
    assert await final_status(first, failing) == "failed"
    assert await final_status(second, going) == "delivered"
    assert sqlite_runtime.provider.outcome_for(Channel.SMS, CONSUMER) == "deliver"


async def final_status(api: httpx.AsyncClient, sent: dict[str, Any]) -> str:
    for _ in range(200):
        conversation = (await api.get(f"/v1/conversations/{sent['conversation_id']}")).json()
        (message,) = (m for m in conversation["messages"] if m["id"] == sent["message_id"])
        if message["status"] in ("delivered", "failed"):
            return str(message["status"])
        await asyncio.sleep(0.025)
    raise AssertionError(f"no receipt for {sent['message_id']}: {message['status']}")
