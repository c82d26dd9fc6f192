"""``POST /v1/consent/import``: opt-ins and opt-outs collected elsewhere, from a CSV. Each
good row is recorded with source ``import``, bad rows are answered by line, the same file
imported twice records nothing new, and marketing then goes to the imported contacts only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chainon.auth import split_api_key
from chainon.domain import ids
from tests.conftest import BrandWithKey
from tests.e2e.test_api import assert_problem
from tests.e2e.test_send_policy_api import send

pytestmark = pytest.mark.asyncio

CSV = (
    "address,purpose,status,channel,collected_at,text\n"
    "camille@example.org,marketing,granted,,2026-03-01T10:00:00+01:00,J'accepte les offres\n"
    "+33612345678,marketing,,sms,,\n"  # status defaults to granted
    "not-an-address,marketing,granted,,,\n"
    "06 12 34 56 79,marketing,maybe,,,\n"
    "\n"  # a blank line says nothing
    "06 12 34 56 80,newsletter,granted,,,\n"
    "lea@example.org,service,revoked,,,\n"
    "lea@example.org,marketing,granted,,yesterday,\n"
    "hugo@example.org,marketing,granted,fax,,\n"
    "nina@example.org,marketing,granted,,2026-03-01T10:00:00,\n"
    "too,many,columns,,,,\n"
)


async def post_csv(api: httpx.AsyncClient, text: str) -> dict[str, Any]:
    response = await api.post(
        "/v1/consent/import", content=text.encode(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_good_rows_are_recorded_and_bad_ones_answered_by_line(
    api: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    answer = await post_csv(api, CSV)
    assert (answer["granted"], answer["revoked"], answer["unchanged"]) == (2, 1, 0)
    assert answer["rejected"] == 7
    reasons = {e["line"]: e["reason"] for e in answer["errors"]}
    assert sorted(reasons) == [4, 5, 7, 9, 10, 11, 12]
    assert reasons[4].startswith("address:")
    assert reasons[5] == "status: must be granted or revoked"
    assert reasons[7] == "purpose: must be marketing or service"
    assert reasons[9] == "collected_at: must be an ISO 8601 time"
    assert reasons[10].startswith("channel:")
    assert reasons[11].startswith("collected_at: needs an offset")
    assert reasons[12] == "7 columns where the header has 6"

    contact = ids.contact_id(brand.id, "camille@example.org")  # registered by the import
    consent = (await api.get(f"/v1/contacts/{contact}/consent")).json()
    [change] = consent["history"]
    evidence = change["evidence"]
    assert (change["granted"], change["purpose"], change["channel"]) == (True, "marketing", None)
    assert evidence["source"] == "import"
    assert evidence["actor"] == f"api_key:{split_api_key(brand.key)}"
    assert evidence["address"] == "camille@example.org"
    assert evidence["collected_at"] == "2026-03-01T10:00:00+01:00"
    assert evidence["text"].startswith("POST /v1/consent/import (request ")
    assert (
        "line 2: camille@example.org,marketing,granted,,2026-03-01T10:00:00+01:00,"
        in (evidence["text"])
    )
    assert "J'accepte les offres" in evidence["text"]


async def test_the_same_file_again_records_nothing_and_never_undoes_a_later_change(
    api: httpx.AsyncClient, brand: BrandWithKey
) -> None:
    text = "address,purpose\ncamille@example.org,marketing\n"
    assert (await post_csv(api, text))["granted"] == 1
    contact = ids.contact_id(brand.id, "camille@example.org")
    revoked = await api.post(
        f"/v1/contacts/{contact}/consent", json={"action": "revoke", "purpose": "marketing"}
    )
    assert revoked.json()["changed"] is True

    again = await post_csv(api, text)
    assert (again["granted"], again["unchanged"], again["rejected"]) == (0, 1, 0)
    history = (await api.get(f"/v1/contacts/{contact}/consent")).json()["history"]
    assert [(c["granted"], c["evidence"]["source"]) for c in history] == [
        (True, "import"),
        (False, "api"),
    ]


async def test_marketing_reaches_an_imported_contact_and_no_one_else(
    api: httpx.AsyncClient,
) -> None:
    await post_csv(api, "address,purpose,status\ncamille@example.org,marketing,granted\n")
    allowed = await send(api, to="camille@example.org", body="Nos nouveautés", purpose="marketing")
    assert allowed["status"] == "queued", allowed
    other = await send(api, to="hugo@example.org", body="Nos nouveautés", purpose="marketing")
    assert (other["status"], other["reason"]) == ("blocked", "no_marketing_consent")


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("", "empty"),
        ("purpose\nmarketing\n", "`address`"),
        ("address,purpose,colour\na@b.org,marketing,red\n", "'colour'"),
    ],
)
async def test_a_file_without_its_columns_is_refused_naming_the_csv(
    api: httpx.AsyncClient, text: str, wanted: str
) -> None:
    response = await api.post(
        "/v1/consent/import", content=text.encode(), headers={"Content-Type": "text/csv"}
    )
    assert_problem(response, 422, "csv")
    assert wanted in response.json()["detail"]
