"""Signed webhooks through the API, delivered to a real receiver that verifies each one
with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from chainon.api.app import create_app
from chainon.observability import REGISTRY
from chainon.runtime import Runtime
from chainon.settings import BusKind, Settings, StoreKind
from tests.conftest import BRAND_SMS, BrandWithKey, make_settings, register
from tests.webhook_receiver import Receiver, receiver

pytestmark = pytest.mark.asyncio

CONSUMER = "+33612345678"
KAFKA = "kafka"
EVERY = [
    "message.received",
    "message.status",
    "conversation.opened",
    "conversation.assigned",
    "conversation.resolved",
]  # in the domain's order (``domain.webhooks.EVENT_TYPES``)


def hook_settings(
    data_dir: Path, store: StoreKind = StoreKind.SQLITE, dsn: str | None = None
) -> Settings:
    return make_settings(store, data_dir, dsn).model_copy(
        update={
            "webhooks_allow_private": True,  # the receiver is on 127.0.0.1, plain http
            "webhooks_retry_scale": 0.05,  # 5 s → 0.25 s, 1 min → 3 s
            "webhooks_poll_interval": 0.05,
        }
    )


@pytest.fixture(params=[StoreKind.SQLITE])
async def hooked(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """``KAFKA``: distributed, the webhooks role follows ``chainon.events.v1``."""
    kafka = request.param == KAFKA
    store: StoreKind = StoreKind.POSTGRES if kafka else request.param
    dsn = request.getfixturevalue("postgres_dsn") if store is StoreKind.POSTGRES else None
    settings = hook_settings(tmp_path, store, dsn)
    if kafka:
        settings = settings.model_copy(
            update={
                "bus": BusKind.KAFKA,
                "kafka_bootstrap": request.getfixturevalue("kafka_bootstrap"),
                "topic_prefix": f"wh{uuid.uuid4().hex[:8]}",
            }
        )
    async with serving(Runtime(settings)) as both:
        yield both


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The runtime started, with a brand, and the API as that brand's key."""
    await runtime.start()
    brand = register(runtime)
    app = create_app(runtime=runtime)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://chainon.test",
            headers={"Authorization": f"Bearer {brand.key}"},
        ) as client:
            yield runtime, client
    finally:
        await runtime.stop()
        runtime.close()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


async def add(api: httpx.AsyncClient, r: Receiver, events: list[str] | None = None) -> str:
    made = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": r.url, "events": events or EVERY, "description": "shop backend"},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_")
    r.secrets = [body["secret"]]
    endpoint_id: str = body["id"]
    return endpoint_id


async def inbound(api: httpx.AsyncClient, text: str = "Ma commande ?") -> dict[str, Any]:
    answer = await api.post(
        "/v1/sandbox/inbound", json={"from": CONSUMER, "to": BRAND_SMS, "body": text}
    )
    assert answer.status_code == 202, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def recorded(api: httpx.AsyncClient, endpoint_id: str, delivered: int) -> None:
    """Waits until the endpoint's attempts show ``delivered`` deliveries recorded."""
    deadline = time.monotonic() + 10
    while True:
        rows = (await api.get(f"/v1/webhooks/endpoints/{endpoint_id}/attempts")).json()
        if sum(a["status_code"] == 200 for a in rows["attempts"]) >= delivered:
            return
        assert time.monotonic() < deadline, "not recorded in time"
        await asyncio.sleep(0.05)


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("hooked", [StoreKind.SQLITE, StoreKind.POSTGRES, KAFKA], indirect=True)
async def test_an_inbound_sms_and_its_reply_are_told_signed(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    await add(api, hook)
    cid = (await inbound(api))["conversation_id"]
    reply = await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Demain !"})
    message_id = reply.json()["message_id"]

    def statuses() -> list[str]:
        return [
            e["data"]["status"]
            for e in hook.events("message.status")
            if e["data"]["message_id"] == message_id
        ]

    await until(lambda: statuses() == ["queued", "sent", "delivered"])
    assert all(d.payload is not None for d in hook.received)  # every one verified
    received = hook.events("message.received")
    assert [(e["data"]["conversation_id"], e["data"]["body"]) for e in received] == [
        (cid, "Ma commande ?")
    ]
    assert received[0]["schema_version"] == 1
    assert [e["data"]["conversation_id"] for e in hook.events("conversation.opened")] == [cid]
    doc = (await api.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    assert list(doc["webhooks"]) == [
        *EVERY,
        "fallback.triggered",
        "consent.changed",
        "campaign.finished",
        "flow.handed_off",
    ]
    for event in hook.events():  # each as the document says, its version included
        operation = doc["webhooks"][event["type"]]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        jsonschema.validate(event, schema)
    ids = [d.webhook_id for d in hook.delivered]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("msg_") for i in ids)


@pytest.mark.parametrize("hooked", [StoreKind.SQLITE, StoreKind.POSTGRES], indirect=True)
async def test_a_receiver_down_then_up_gets_every_event_with_stable_ids(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    endpoint_id = await add(api, hook, ["message.received"])
    hook.mode = "down"
    for text in ("un", "deux", "trois"):
        await inbound(api, text)
    await until(lambda: len({d.webhook_id for d in hook.received}) == 3)
    await until(lambda: len(hook.received) >= 6)  # each retried at least once
    await until(lambda: (metric("oldest_undelivered_seconds", endpoint_id) or 0) > 0)
    hook.mode = "ok"
    await until(lambda: len(hook.events()) == 3, within=20)
    await recorded(api, endpoint_id, 3)

    refused = {d.webhook_id for d in hook.received if d.answered == 503}
    assert {d.webhook_id for d in hook.delivered} == refused  # the same ids, retried
    assert sorted(e["data"]["body"] for e in hook.events()) == ["deux", "trois", "un"]
    attempts = (await api.get(f"/v1/webhooks/endpoints/{endpoint_id}/attempts")).json()
    rows = attempts["attempts"]
    failed = [a for a in rows if a["status_code"] == 503]
    assert len(failed) >= 3
    assert all(a["next_retry_at"] for a in failed)
    assert {a["webhook_id"] for a in rows if a["status_code"] == 200} == refused
    assert all(a["event_type"] == "message.received" and a["duration_ms"] >= 0 for a in rows)
    # The metrics say the same, for this endpoint; nothing is owed any more.
    assert metric("attempts_total", endpoint_id) == len(rows)
    assert metric("failures_total", endpoint_id) == len(failed)
    await until(lambda: metric("oldest_undelivered_seconds", endpoint_id) is None)


def metric(name: str, endpoint_id: str) -> float | None:
    found: float | None = REGISTRY.get_sample_value(
        f"chainon_webhook_{name}", {"endpoint": endpoint_id}
    )
    return found


async def test_a_redirect_is_a_failure_and_is_not_followed(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    endpoint_id = await add(api, hook, ["message.received"])
    hook.mode = "redirect"  # 307 to /elsewhere, on the same receiver
    await inbound(api)

    async def redirected() -> list[dict[str, Any]]:
        rows = (await api.get(f"/v1/webhooks/endpoints/{endpoint_id}/attempts")).json()
        return [a for a in rows["attempts"] if a["status_code"] == 307]

    deadline = time.monotonic() + 10
    while len(await redirected()) < 2:  # failed, then retried (0.25 s on the test's scale)
        assert time.monotonic() < deadline, "not retried in time"
        await asyncio.sleep(0.05)
    assert all(a["error"] == "answered 307" and a["next_retry_at"] for a in await redirected())
    assert set(hook.paths) == {"/hooks"}  # never followed to /elsewhere
    assert len({d.webhook_id for d in hook.received}) == 1  # the same event, retried


async def test_a_dead_endpoint_beside_a_live_one_does_not_delay_it(
    hooked: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _, api = hooked
    with receiver() as dead, receiver() as live:
        dead.mode = "hang"
        await add(api, dead, ["message.received"])
        await add(api, live, ["message.received"])
        for text in ("un", "deux"):
            await inbound(api, text)
        started = time.monotonic()
        await until(lambda: len(live.events()) == 2, within=5)
        assert time.monotonic() - started < 5  # the dead one holds each attempt 10 s
        assert dead.delivered == []


async def test_a_rotated_secret_verifies_with_both_during_the_overlap(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    endpoint_id = await add(api, hook, ["message.received"])
    old = hook.secrets[0]
    rotated = await api.post(f"/v1/webhooks/endpoints/{endpoint_id}/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    until_ = datetime.fromisoformat(rotated.json()["previous_secret_valid_until"])
    assert new != old
    assert new.startswith("whsec_")
    assert 23.9 * 3600 < (until_ - datetime.now(UTC)).total_seconds() <= 24 * 3600
    hook.secrets = [old, new]  # the receiver insists both verify
    await inbound(api)
    await until(lambda: len(hook.received) == 1)
    assert hook.received[0].payload is not None
    assert len(hook.received[0].headers["webhook-signature"].split(" ")) == 2


@pytest.mark.parametrize("hooked", [StoreKind.SQLITE, StoreKind.POSTGRES], indirect=True)
async def test_replay_since_a_time_sends_again_under_the_same_ids(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    endpoint_id = await add(api, hook, ["message.received"])
    await inbound(api, "avant")
    await until(lambda: len(hook.events()) == 1)
    await asyncio.sleep(0.01)
    since = datetime.now(UTC)
    await inbound(api, "après")
    await until(lambda: len(hook.events()) == 2)
    await recorded(api, endpoint_id, 2)  # else the replay could race the last one's record
    first = {
        e["data"]["body"]: d.webhook_id for d, e in zip(hook.delivered, hook.events(), strict=True)
    }

    replayed = await api.post(
        f"/v1/webhooks/endpoints/{endpoint_id}/replay", json={"since": since.isoformat()}
    )
    assert replayed.status_code == 202
    assert replayed.json()["replayed"] == 1
    await until(lambda: len(hook.events()) == 3)
    again = hook.delivered[-1]
    assert again.payload is not None
    assert again.payload["data"]["body"] == "après"
    assert again.webhook_id == first["après"]


async def test_endpoints_are_listed_changed_and_removed_within_the_brand(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    runtime, api = hooked
    endpoint_id = await add(api, hook, ["message.received"])
    listed = (await api.get("/v1/webhooks/endpoints")).json()["endpoints"]
    assert [(e["id"], e["url"], e["events"]) for e in listed] == [
        (endpoint_id, hook.url, ["message.received"])
    ]
    assert "secret" not in listed[0]
    changed = await api.patch(
        f"/v1/webhooks/endpoints/{endpoint_id}",
        json={"events": ["message.status", "consent.changed"], "enabled": False},
    )
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["enabled"]) == (
        ["message.status", "consent.changed"],
        False,
    )
    bad = await api.patch(f"/v1/webhooks/endpoints/{endpoint_id}", json={"events": ["nope"]})
    assert bad.status_code == 422
    assert "events" in bad.json()["field"]

    other = register(runtime, slug="atelier-rival", sms="+33939000222")
    theirs = {"Authorization": f"Bearer {other.key}"}
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/rotate"), ("GET", "/attempts")):
        answer = await api.request(
            method, f"/v1/webhooks/endpoints/{endpoint_id}{suffix}", headers=theirs
        )
        assert answer.status_code == 404, (method, suffix)
    assert (await api.get("/v1/webhooks/endpoints", headers=theirs)).json() == {"endpoints": []}

    assert (await api.delete(f"/v1/webhooks/endpoints/{endpoint_id}")).status_code == 204
    assert (await api.get(f"/v1/webhooks/endpoints/{endpoint_id}")).status_code == 404


async def test_private_and_plain_addresses_are_refused_without_the_setting(
    api: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    for url in (
        "https://127.0.0.1/hooks",
        "https://localhost:8443/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "http://example.com/hooks",
    ):
        answer = await api.post(
            "/v1/webhooks/endpoints", json={"url": url, "events": ["message.received"]}
        )
        assert answer.status_code == 422, url
        assert answer.json()["field"] == "url", url
    unknown = await api.post(
        "/v1/webhooks/endpoints", json={"url": "https://example.com", "events": ["sms.sent"]}
    )
    assert unknown.status_code == 422
    assert "events" in unknown.json()["field"]


async def test_a_finished_campaign_is_told_signed(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    await add(api, hook, events=["campaign.finished"])
    mail = "camille@example.org"
    written = await api.post(
        "/v1/sandbox/inbound",
        json={
            "from": mail,
            "to": "bonjour@maison-lumiere.example",
            "body": "Bonjour",
            "channel": "email",
        },
    )
    assert written.status_code == 202, written.text
    grant = {"action": "grant", "purpose": "marketing"}
    granted = await api.post(f"/v1/contacts/{written.json()['contact_id']}/consent", json=grant)
    assert granted.status_code == 200, granted.text
    draft = {"name": "Soldes", "template": "-20% !", "channel": "email", "audience": "csv"}
    campaign = (await api.post("/v1/campaigns", json=draft)).json()["id"]
    upload = await api.put(
        f"/v1/campaigns/{campaign}/audience",
        content=f"to\n{mail}\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert upload.json()["recipients"] == 1
    await api.post(f"/v1/campaigns/{campaign}/schedule", json={})

    await until(lambda: bool(hook.events("campaign.finished")))
    (told,) = hook.events("campaign.finished")  # verified with the endpoint's secret
    assert told["data"] == {"campaign_id": campaign}
    shown = (await api.get(f"/v1/campaigns/{campaign}")).json()
    assert shown["state"] == "finished"
    assert told["timestamp"].removesuffix("Z") == shown["finished_at"].removesuffix("Z")
    doc = (await api.get("/openapi.json")).json()
    operation = doc["webhooks"]["campaign.finished"]["post"]
    jsonschema.validate(told, operation["requestBody"]["content"]["application/json"]["schema"])
    assert [d.payload is not None for d in hook.received] == [True]  # nothing else was owed


def as_documented(doc: dict[str, Any], event: dict[str, Any]) -> None:
    operation = doc["webhooks"][event["type"]]["post"]
    jsonschema.validate(event, operation["requestBody"]["content"]["application/json"]["schema"])


async def test_a_send_the_policy_blocks_is_told_as_blocked_with_its_reason(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    await add(api, hook, ["message.status"])
    answer = await api.post(
        "/v1/messages",
        json={"to": CONSUMER, "body": "-20 % ! STOP au 0939000001", "purpose": "marketing"},
    )
    assert answer.status_code in (200, 202), answer.text
    assert (answer.json()["status"], answer.json()["reason"]) == ("blocked", "no_marketing_consent")

    await until(lambda: bool(hook.events()))
    (told,) = hook.events()  # verified; never queued, so nothing else
    assert told["data"]["message_id"] == answer.json()["message_id"]
    assert (told["data"]["status"], told["data"]["reason"]) == ("blocked", "no_marketing_consent")
    as_documented((await api.get("/openapi.json")).json(), told)


async def test_a_message_chainon_expires_for_want_of_a_receipt_is_told_with_the_reason(
    tmp_path: Path, hook: Receiver
) -> None:
    # No receipt ever comes, and the deadline is a second away (model_copy does not
    # validate: the setting's own floor is a minute).
    settings = hook_settings(tmp_path).model_copy(
        update={
            "sandbox_outcome": "silent",
            "receipt_deadline_seconds": 1,
            "deadline_poll_interval": 0.02,
        }
    )
    async with serving(Runtime(settings)) as (_, api):
        await add(api, hook, ["message.status"])
        sent = await api.post("/v1/messages", json={"to": CONSUMER, "body": "Votre colis"})
        message_id = sent.json()["message_id"]

        def statuses() -> list[str]:
            return [e["data"]["status"] for e in hook.events()]

        await until(lambda: statuses() == ["queued", "sent", "expired"])
        expired = hook.events()[-1]
        assert expired["data"]["message_id"] == message_id
        assert expired["data"]["reason"].startswith("no delivery receipt by ")
        as_documented((await api.get("/openapi.json")).json(), expired)


HANDOFF_FLOW = """
name: desk
description: Straight to a person.
settings:
  languages: [fr]
  handoff: {team: care, priority: high}
steps:
  - id: to_someone
    type: handoff
    text: Un conseiller vous répond.
    summary: Demande directe
"""


async def test_a_flow_handing_off_is_told_with_its_conversation(
    hooked: tuple[Runtime, httpx.AsyncClient], hook: Receiver
) -> None:
    _, api = hooked
    await add(api, hook, ["flow.handed_off"])
    published = await api.put(
        "/v1/flows/desk", content=HANDOFF_FLOW, headers={"Content-Type": "application/yaml"}
    )
    assert published.status_code in (200, 201), published.text
    cid = (await inbound(api, "Bonjour"))["conversation_id"]
    started = await api.post(f"/v1/conversations/{cid}/flow", json={"flow": "desk"})
    assert started.is_success, started.text

    await until(lambda: bool(hook.events()))
    (told,) = hook.events()  # verified with the endpoint's secret
    assert told["type"] == "flow.handed_off"
    data = told["data"]
    assert (data["conversation_id"], data["flow"], data["step"]) == (cid, "desk", "to_someone")
    assert (data["team"], data["priority"], data["summary"]) == ("care", "high", "Demande directe")
    as_documented((await api.get("/openapi.json")).json(), told)
