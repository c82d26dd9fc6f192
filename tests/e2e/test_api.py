"""The HTTP API end to end, in process: every error names its field; brands never meet."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from chainon.api.app import create_app
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, register

pytestmark = pytest.mark.asyncio

PROBLEM = "application/problem+json"


async def inbound(
    api: httpx.AsyncClient, body: str = "Bonjour", sender: str = "06 12 34 56 78", **extra: Any
) -> dict[str, Any]:
    payload = {"from": sender, "to": BRAND_SMS, "body": body, **extra}
    response = await api.post("/v1/sandbox/inbound", json=payload)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


async def wait_for_status(
    api: httpx.AsyncClient, conversation_id: str, message_id: str, status: str
) -> dict[str, Any]:
    for _ in range(200):
        conversation = (await api.get(f"/v1/conversations/{conversation_id}")).json()
        message = next(m for m in conversation["messages"] if m["id"] == message_id)
        if message["status"] == status:
            return conversation  # type: ignore[no-any-return]
        await asyncio.sleep(0.025)
    raise AssertionError(f"message {message_id} never became {status}: {message['status']}")


def assert_problem(response: httpx.Response, status: int, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["detail"]
    assert problem.get("field") == field
    return problem


async def test_a_whole_conversation_through_the_api(api: httpx.AsyncClient) -> None:
    opened = await inbound(api, "Bonjour, ma commande n'est pas arrivée")
    cid = opened["conversation_id"]
    assert (
        await api.post(
            f"/v1/conversations/{cid}/assignment", json={"agent": "camille", "team": "support"}
        )
    ).status_code == 200
    tags = await api.post(f"/v1/conversations/{cid}/tags", json={"add": ["Livraison"]})
    assert tags.json()["changed"] is True
    reply = await api.post(
        f"/v1/conversations/{cid}/messages", json={"body": "Elle arrive demain !"}
    )
    assert reply.status_code == 202
    assert reply.json()["channel"] == "sms"
    conversation = await wait_for_status(api, cid, reply.json()["message_id"], "delivered")
    resolved = await api.post(f"/v1/conversations/{cid}/resolve", json={"by": "camille"})
    assert resolved.status_code == 200

    conversation = (await api.get(f"/v1/conversations/{cid}?order=oldest")).json()
    assert conversation["status"] == "resolved"
    assert (conversation["agent"], conversation["team"], conversation["tags"]) == (
        "camille",
        "support",
        ["livraison"],
    )
    assert [m["direction"] for m in conversation["messages"]] == ["inbound", "outbound"]
    assert [h["status"] for h in conversation["messages"][1]["history"]] == [
        "queued",
        "sent",
        "delivered",
    ]
    assert [e["event"] for e in conversation["timeline"]] == [
        "Opened",
        "MessageReceived",
        "Assigned",
        "Tagged",
        "MessageQueued",
        "MessageSent",
        "MessageDelivered",
        "Resolved",
    ]

    contact = await api.get("/v1/contacts", params={"address": "+33 6 12 34 56 78"})
    assert contact.status_code == 200
    assert contact.json()["conversations"] == [cid]


async def test_an_idempotency_key_replays_the_first_answer_and_sends_once(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    request = {"to": "+33612345678", "body": "Code promo : CHAINON"}
    first = await api.post(
        "/v1/messages", json=request, headers={"Idempotency-Key": "campaign-7:42"}
    )
    again = await api.post(
        "/v1/messages", json=request, headers={"Idempotency-Key": "campaign-7:42"}
    )
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["message_id"] == first.json()["message_id"]
    conversation = (await api.get(f"/v1/conversations/{first.json()['conversation_id']}")).json()
    assert len(conversation["messages"]) == 1

    other = await api.post(
        "/v1/messages",
        json={**request, "body": "autre"},
        headers={"Idempotency-Key": "campaign-7:42"},
    )
    assert_problem(other, 422, "Idempotency-Key")
    too_long = await api.post("/v1/messages", json=request, headers={"Idempotency-Key": "k" * 256})
    assert_problem(too_long, 422, "Idempotency-Key")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "+33 12", "body": "x"}, "to"),
        ({"to": "pas un numéro", "body": "x"}, "to"),
        ({"to": "+33612345678", "body": ""}, "body"),
        ({"to": "+33612345678", "body": "   "}, "body"),
        ({"to": "+33612345678", "body": "ç" * 671}, "body"),  # 11 UCS-2 segments
        ({"to": "+33612345678", "body": "x", "channel": "fax"}, "channel"),
        ({"to": "+33612345678", "body": "x", "channel": "rcs"}, "channel"),  # no RCS sender
        ({"to": "+33612345678", "body": "x", "channel": "email"}, "channel"),  # can't reach a phone
        ({"body": "x"}, "to"),
        ({"to": "+33612345678", "body": "x", "priority": "high"}, "priority"),
    ],
)
async def test_invalid_sends_are_refused_naming_the_field(
    api: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    assert_problem(await api.post("/v1/messages", json=payload), 422, field)


async def test_malformed_json_is_a_422_not_a_500(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_body_over_the_limit_is_413_before_it_is_read(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    limit = sqlite_runtime.settings.max_request_bytes
    response = await api.post(
        "/v1/messages", content=b"x" * (limit + 1), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, None)


async def test_without_a_valid_key_everything_is_401(api: httpx.AsyncClient) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer chn_000000000000_nope"},
        {"Authorization": "Basic abc"},
    ):
        response = await api.get("/v1/conversations", headers=headers)
        assert_problem(response, 401, None)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_another_brands_conversation_answers_exactly_as_a_missing_one(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    theirs = register(sqlite_runtime, slug="autre-marque", sms="+33939000002")
    cid = (await inbound(api))["conversation_id"]
    contact_id = (await api.get(f"/v1/conversations/{cid}")).json()["contact_id"]
    as_them = {"Authorization": f"Bearer {theirs.key}"}
    missing = "00000000-0000-0000-0000-000000000000"
    for path in ("/v1/conversations/{}", "/v1/contacts/{}"):
        real = path.format(cid if "conversations" in path else contact_id)
        other = await api.get(real, headers=as_them)
        absent = await api.get(path.format(missing), headers=as_them)
        assert other.status_code == absent.status_code == 404
        assert other.json()["title"] == absent.json()["title"]
    for action in ("resolve", "reopen"):
        assert (
            await api.post(f"/v1/conversations/{cid}/{action}", headers=as_them)
        ).status_code == 404
    reply = await api.post(f"/v1/conversations/{cid}/messages", json={"body": "x"}, headers=as_them)
    assert reply.status_code == 404
    listed = (await api.get("/v1/conversations", headers=as_them)).json()
    assert listed["items"] == []


async def test_refused_transitions_are_409_with_a_reason(api: httpx.AsyncClient) -> None:
    cid = (await inbound(api))["conversation_id"]
    assert assert_problem(await api.post(f"/v1/conversations/{cid}/reopen"), 409, None)[
        "detail"
    ].startswith("the conversation is open")
    assert (await api.post(f"/v1/conversations/{cid}/resolve")).status_code == 200
    assert_problem(await api.post(f"/v1/conversations/{cid}/resolve"), 409, None)
    assert_problem(
        await api.post(f"/v1/conversations/{cid}/messages", json={"body": "x"}), 409, None
    )
    assert (await api.post(f"/v1/conversations/{cid}/reopen")).status_code == 200


async def test_unknown_ids_and_bad_queries(api: httpx.AsyncClient) -> None:
    assert_problem(
        await api.get("/v1/conversations/00000000-0000-0000-0000-000000000000"), 404, None
    )
    assert_problem(await api.get("/v1/conversations/not-a-uuid"), 422, "conversation_id")
    assert_problem(await api.get("/v1/conversations", params={"limit": 0}), 422, "limit")
    assert_problem(await api.get("/v1/conversations", params={"status": "archived"}), 422, "status")
    assert_problem(await api.get("/v1/conversations", params={"cursor": "!!"}), 422, "cursor")
    assert_problem(await api.get("/v1/contacts", params={"address": "+33 12"}), 422, "address")
    assert_problem(
        await api.get("/v1/contacts", params={"address": "+33611111111"}), 404, "address"
    )


async def test_sandbox_inbound_to_an_address_the_brand_does_not_own(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/sandbox/inbound", json={"from": "0612345678", "to": "+33939000077", "body": "x"}
    )
    assert_problem(response, 422, "to")
    response = await api.post(
        "/v1/sandbox/inbound", json={"from": "n/a", "to": BRAND_SMS, "body": "x"}
    )
    assert_problem(response, 422, "from")


async def test_a_provider_retry_through_the_sandbox_is_one_message(api: httpx.AsyncClient) -> None:
    first = await inbound(api, provider_message_id="smsc-123")
    again = await inbound(api, provider_message_id="smsc-123")
    assert again["duplicate"] is True
    assert again["message_id"] == first["message_id"]
    conversation = (await api.get(f"/v1/conversations/{first['conversation_id']}")).json()
    assert len(conversation["messages"]) == 1


async def test_the_list_pages_with_a_cursor_and_reads_its_own_writes(
    api: httpx.AsyncClient,
) -> None:
    written = [await inbound(api, sender=f"+3361234500{i}") for i in range(5)]
    last_position = max(w["position"] for w in written)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, "min_position": last_position}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/conversations", params=params)).json()
        assert page["position"] >= last_position
        assert page["caught_up"] is True
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [w["conversation_id"] for w in reversed(written)]


async def test_sandbox_outcomes_drive_failures(api: httpx.AsyncClient) -> None:
    assert (
        await api.put("/v1/sandbox/outcomes/+33612345699", json={"outcome": "fail"})
    ).status_code == 204
    sent = (await api.post("/v1/messages", json={"to": "+33612345699", "body": "x"})).json()
    conversation = await wait_for_status(api, sent["conversation_id"], sent["message_id"], "failed")
    assert conversation["messages"][0]["reason"] == "sandbox: told to fail"
    assert_problem(
        await api.put("/v1/sandbox/outcomes/+33612345699", json={"outcome": "explode"}),
        422,
        "outcome",
    )


async def test_operations_endpoints(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "alive"}
    ready = (await api.get("/readyz")).json()
    assert ready["status"] == "ready"
    await inbound(api)
    response = await api.get("/metrics", headers={"X-Request-Id": "trace-me-42"})
    assert response.headers["x-request-id"] == "trace-me-42"
    assert (
        'chainon_messages_total{channel="sms",direction="inbound",status="received"}'
        in response.text
    )
    assert "chainon_http_requests_total" in response.text


async def test_smart_encoding_keeps_an_sms_gsm7_and_records_what_it_replaced(
    sqlite_runtime: Runtime,
) -> None:
    core = sqlite_runtime.core
    brand = core.register_brand(
        slug="econome", name="Économe", senders=[(Channel.SMS, "+33939000003")], smart_encoding=True
    )
    app = create_app(runtime=sqlite_runtime)
    headers = {"Authorization": f"Bearer {core.api_keys.issue(brand.id)}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
    ) as api:
        # Two UCS-2 parts as written, one GSM-7 part once rewritten: the rewrite saves a part.
        text = "“Merci” – à demain… Votre commande arrive entre 9 h et 12 h, on vous appelle."
        sent = await api.post("/v1/messages", json={"to": "+33612345678", "body": text})
        conversation = (await api.get(f"/v1/conversations/{sent.json()['conversation_id']}")).json()
    (message,) = conversation["messages"]
    assert message["body"] == (
        '"Merci" - à demain... Votre commande arrive entre 9 h et 12 h, on vous appelle.'
    )
    assert (message["encoding"], message["segments"]) == ("gsm7", 1)
    assert message["smart_encoded"] == ["“", "”", "–", "…"]
