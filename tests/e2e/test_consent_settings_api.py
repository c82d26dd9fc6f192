"""A brand's own consent settings (``PUT /v1/consent/settings``) act on the real paths: its
keywords on inbound words, its texts in the confirmation, its quiet hours on a send, its
reach of an opt-out across channels; past the rules' limits it is refused naming the field,
and an override is recorded with who asked and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chainon.api.app import create_app
from chainon.auth import split_api_key
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, BrandWithKey
from tests.e2e.test_api import assert_problem, inbound
from tests.e2e.test_keywords_inbound import (  # noqa: F401
    AGENT,
    PHONE,
    PROMO,
    consent_of,
    opted_in,
    outbound_of,
    promo,
    within_marketing_hours,
)

pytestmark = pytest.mark.asyncio

PARIS = ZoneInfo("Europe/Paris")
GOODBYE = "{brand} : c'est noté, plus aucune promotion. START pour revenir."


async def configure(api: httpx.AsyncClient, document: dict[str, Any]) -> dict[str, Any]:
    answer = await api.put("/v1/consent/settings", json=document)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a_brand_added_keyword_opts_out_as_surely_as_stop(api: httpx.AsyncClient) -> None:
    await configure(api, {"keywords": {"fr": {"opt_out": {"add": ["BASTA"]}}}})
    first = await opted_in(api)
    basta = await inbound(api, "Basta !")
    assert (await promo(api))["reason"] == "opted_out"
    last = (await consent_of(api, first["contact_id"]))["history"][-1]
    # Without the brand's word, "basta" is a loose reading: uncertain, and never confirmed.
    assert (last["evidence"]["rule"], last["evidence"]["uncertain"]) == ("keyword.basta", False)
    assert last["evidence"]["message_id"] == basta["message_id"]
    confirmations = [
        m for m in await outbound_of(api, first["conversation_id"]) if m["body"] != PROMO
    ]
    assert len(confirmations) == 1


async def test_a_removed_default_no_longer_acts_but_stop_still_does(
    api: httpx.AsyncClient,
) -> None:
    await configure(api, {"keywords": {"fr": {"opt_out": {"remove": ["DESABONNER"]}}}})
    first = await opted_in(api)
    await inbound(api, "Désabonner")
    assert (await promo(api))["status"] == "queued"
    assert len((await consent_of(api, first["contact_id"]))["history"]) == 1
    await inbound(api, "STOP")
    assert (await promo(api))["reason"] == "opted_out"


@pytest.mark.parametrize("word", ["STOP", "arrêt", "Stop All", "unsubscribe"])
async def test_the_opt_outs_the_rules_require_cannot_be_removed(
    api: httpx.AsyncClient, word: str
) -> None:
    language = "en" if word == "unsubscribe" else "fr"
    action = "opt_out_all" if word == "Stop All" else "opt_out"
    refused = await api.put(
        "/v1/consent/settings", json={"keywords": {language: {action: {"remove": [word]}}}}
    )
    problem = assert_problem(refused, 422, f"keywords.{language}.{action}.remove")
    assert "cannot be removed" in problem["detail"]


async def test_the_brands_french_confirmation_is_what_the_contact_receives(
    api: httpx.AsyncClient,
) -> None:
    await configure(api, {"texts": {"fr": {"opt_out": GOODBYE}}})
    first = await opted_in(api)
    await inbound(api, "STOP")
    (confirmation,) = [
        m for m in await outbound_of(api, first["conversation_id"]) if m["body"] != PROMO
    ]
    assert (
        confirmation["body"]
        == "Maison Lumiere : c'est noté, plus aucune promotion. START pour revenir."
    )


async def test_a_confirmation_with_a_link_is_refused_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    text = "Désinscrit. Nos offres : https://maison.example/soldes"
    refused = await api.put("/v1/consent/settings", json={"texts": {"fr": {"opt_out": text}}})
    assert_problem(refused, 422, "texts.fr.opt_out")


async def test_a_narrowed_window_defers_a_nine_oclock_marketing_send_to_ten(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    await opted_in(api)
    await configure(api, {"quiet_hours": {"FR": {"opens": "10:00", "closes": "18:00"}}})
    nine = datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)  # a Tuesday: France's window is open
    sqlite_runtime.core.clock = lambda: nine
    answer = await promo(api)
    assert answer["status"] == "deferred"
    assert datetime.fromisoformat(answer["release_at"]) == datetime(
        2026, 12, 8, 10, 0, tzinfo=PARIS
    )


async def test_a_wider_window_needs_an_override_which_is_recorded(
    api: httpx.AsyncClient, brand: BrandWithKey, sqlite_runtime: Runtime
) -> None:
    wider = {"opens": "07:00", "closes": "20:00"}
    refused = await api.put("/v1/consent/settings", json={"quiet_hours": {"FR": wider}})
    problem = assert_problem(refused, 422, "quiet_hours.FR")
    assert "override" in problem["detail"]
    reason = "Boulangerie: the morning bread offer, agreed with counsel 2026-12-01"
    document = {"quiet_hours": {"FR": {**wider, "override": {"reason": reason}}}}
    assert (await configure(api, document))["changed"] is True
    assert (await configure(api, document))["changed"] is False  # the same document: no event
    shown = (await api.get("/v1/consent/settings")).json()
    window = shown["quiet_hours"]["FR"]
    key_id = f"api_key:{split_api_key(brand.key)}"
    assert (window["opens"], window["override"]["reason"]) == ("07:00:00", reason)
    assert window["override"]["by"] == key_id
    (change,) = shown["history"]
    assert change["by"] == key_id
    assert change["settings"]["quiet_hours"]["FR"]["override"] == {"reason": reason}
    await opted_in(api)
    sqlite_runtime.core.clock = lambda: datetime(2026, 12, 8, 7, 30, tzinfo=PARIS)
    assert (await promo(api))["status"] == "queued"


async def test_the_first_shape_of_the_route_still_sets_the_mention(
    api: httpx.AsyncClient,
) -> None:
    await configure(api, {"append_opt_out_mention": True})
    shown = (await api.get("/v1/consent/settings")).json()
    assert shown["settings"]["append_opt_out_mention"] is True
    assert shown["texts"]["fr"]["help"] == "Répondez STOP pour ne plus recevoir de messages."
    assert "basta" not in shown["keywords"]["fr"]["opt_out"]


async def test_with_the_cross_channel_rule_off_an_rcs_stop_leaves_sms_marketing(
    sqlite_runtime: Runtime,
) -> None:
    core = sqlite_runtime.core
    brand = core.register_brand(
        slug="maison-rcs", name="Maison", senders=[(Channel.RCS, AGENT), (Channel.SMS, BRAND_SMS)]
    )
    key = core.api_keys.issue(brand.id, "tests")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=sqlite_runtime)),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {key}"},
    ) as api:
        await configure(api, {"opt_out_scope": "channel"})
        await opted_in(api)
        by_rcs = {"from": PHONE, "to": AGENT, "body": "STOP", "channel": "rcs"}
        stopped = await api.post("/v1/sandbox/inbound", json=by_rcs)
        assert stopped.status_code == 202, stopped.text

        def marketing(channel: str) -> dict[str, str]:
            return {"to": PHONE, "body": PROMO, "purpose": "marketing", "channel": channel}

        sms = (await api.post("/v1/messages", json=marketing("sms"))).json()
        assert sms["status"] == "queued"
        rcs = (await api.post("/v1/messages", json=marketing("rcs"))).json()
        assert (rcs["status"], rcs["reason"]) == ("blocked", "opted_out")
        consent = await consent_of(api, stopped.json()["contact_id"])
        assert consent["state"][0]["channels"] == {
            "sms": "granted",
            "rcs": "revoked",
            "email": "granted",
        }


async def test_a_campaigns_dry_run_asks_the_brands_own_window(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    await opted_in(api)
    await configure(api, {"quiet_hours": {"FR": {"opens": "10:00", "closes": "18:00"}}})
    sqlite_runtime.core.clock = lambda: datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)
    body = {"name": "Soldes", "template": "Soldes ! STOP SMS", "audience": "csv"}
    campaign = (await api.post("/v1/campaigns", json=body)).json()["id"]
    uploaded = await api.put(
        f"/v1/campaigns/{campaign}/audience",
        content=f"to\n{PHONE}\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    dry = (await api.post(f"/v1/campaigns/{campaign}/dry-run")).json()
    (held,) = dry["deferred"]
    assert datetime.fromisoformat(held["release_at"]) == datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)
