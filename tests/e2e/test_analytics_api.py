"""Analytics through the HTTP API: real conversations in, the day's numbers out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from chainon.runtime import Runtime
from tests.conftest import register
from tests.e2e.test_api import assert_problem, inbound, wait_for_status

pytestmark = pytest.mark.asyncio

FAILING = "+33612345699"


def around_today() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


def total(days: list[dict[str, Any]], name: str) -> int:
    return sum(int(d[name]) for d in days)


async def test_the_days_numbers_follow_what_happened(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    delivered = await inbound(api, "Bonjour, ma commande ?")
    cid = delivered["conversation_id"]
    reply = (await api.post(f"/v1/conversations/{cid}/messages", json={"body": "Demain !"})).json()
    await wait_for_status(api, cid, reply["message_id"], "delivered")

    fail = await api.put(f"/v1/sandbox/outcomes/{FAILING}", json={"outcome": "fail"})
    assert fail.status_code == 204
    other = (await inbound(api, "Allô ?", sender=FAILING))["conversation_id"]
    long_reply = {"body": "x" * 200}  # two GSM-7 segments of 153
    failed = (await api.post(f"/v1/conversations/{other}/messages", json=long_reply)).json()
    await wait_for_status(api, other, failed["message_id"], "failed")

    resolved = (await api.post(f"/v1/conversations/{cid}/resolve", json={"by": "camille"})).json()
    params = {**around_today(), "min_position": resolved["position"]}
    response = await api.get("/v1/analytics", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["caught_up"] is True
    assert body["position"] >= resolved["position"]
    assert (body["from"], body["to"], body["currency"]) == (params["from"], params["to"], "EUR")
    days = body["days"]
    assert {d["channel"] for d in days} == {"sms"}
    expected = {
        "conversations_opened": 2,
        "conversations_resolved": 1,
        "messages_in": 2,
        "messages_out": 2,
        "sms_segments": 3,
        "delivered": 1,
        "failed": 1,
        "expired": 0,
        "fallbacks": 0,
        "csat_count": 0,
    }
    assert {name: total(days, name) for name in expected} == expected
    assert sum(Decimal(d["cost"]) for d in days) == Decimal("0.045") * 3
    failures: dict[str, int] = {}
    for d in days:
        for reason, count in d["failures"].items():
            failures[reason] = failures.get(reason, 0) + count
    assert failures == {"sandbox: told to fail": 1}
    (resolved_day,) = [d for d in days if d["conversations_resolved"]]
    assert 0 < resolved_day["resolution_p50"] == resolved_day["resolution_p90"] < 60
    if len(days) == 1:  # always, unless the test ran across midnight UTC
        (day,) = days
        assert day["delivery_rate"] == 0.5
        assert 0 <= day["first_response_p50"] <= day["first_response_p90"] < 60
        assert day["csat_average"] is None

    only_email = await api.get("/v1/analytics", params={**around_today(), "channel": "email"})
    assert only_email.json()["days"] == []
    assert only_email.json()["caught_up"] is None

    theirs = register(sqlite_runtime, slug="autre-marque", sms="+33939000002")
    as_them = {"Authorization": f"Bearer {theirs.key}"}
    their_view = await api.get("/v1/analytics", params=around_today(), headers=as_them)
    assert their_view.json()["days"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "2025-01-31"}, "from"),
        ({"from": "2025-01-01"}, "to"),
        ({"from": "yesterday", "to": "2025-01-31"}, "from"),
        ({"from": "2025-13-01", "to": "2025-12-31"}, "from"),
        ({"from": "2025-02-01", "to": "2025-02-30"}, "to"),
        ({"from": "1700000000", "to": "2025-12-31"}, "from"),
        ({"from": "2025-02-01", "to": "2025-01-31"}, "to"),
        ({"from": "2024-01-01", "to": "2025-01-01"}, "to"),  # 367 days
        ({"from": "2025-01-01", "to": "2025-01-31", "channel": "fax"}, "channel"),
        ({"from": "2025-01-01", "to": "2025-01-31", "min_position": -1}, "min_position"),
    ],
)
async def test_bad_queries_are_refused_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    assert_problem(await api.get("/v1/analytics", params=params), 422, field)


async def test_a_whole_leap_year_is_allowed_and_needs_a_key(api: httpx.AsyncClient) -> None:
    year = await api.get("/v1/analytics", params={"from": "2024-01-01", "to": "2024-12-31"})
    assert year.status_code == 200, year.text
    assert year.json()["days"] == []
    assert_problem(
        await api.get("/v1/analytics", params=around_today(), headers={"Authorization": ""}),
        401,
        None,
    )
