"""Each example flow driven end to end through the API, the sandbox playing the consumer
over SMS, RCS and email: triggers, invalid answers and reprompts, the answers stored on
the contact, the hand-off into the team's queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey
from tests.e2e.flow_helpers import (
    TUESDAY_MORNING,
    bot_events,
    client,
    clock_from,
    conversation,
    example,
    profile,
    publish,
    queued,
    register_bot_brand,
    said,
    write,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def brand(sqlite_runtime: Runtime) -> BrandWithKey:
    clock_from(sqlite_runtime, TUESDAY_MORNING)
    return register_bot_brand(sqlite_runtime)


@pytest.fixture
async def api(sqlite_runtime: Runtime, brand: BrandWithKey) -> AsyncIterator[httpx.AsyncClient]:
    async for each in client(sqlite_runtime, brand.key):
        yield each


async def test_delivery_details_over_sms_with_reprompts_then_a_hand_off(
    api: httpx.AsyncClient,
) -> None:
    await publish(api, "delivery-details")
    started = await write(api, "Livraison")  # the flow's keyword, any case
    cid = started["conversation_id"]
    (question,) = await said(api, cid)
    assert "Répondez OUI ou NON" in question["body"]

    await write(api, "peut-être")
    reprompt = (await said(api, cid))[-1]
    assert reprompt["body"].startswith("Répondez simplement OUI ou NON")
    await write(api, "non")
    assert "À quelle adresse" in (await said(api, cid))[-1]["body"]
    await write(api, "12 rue des Lilas, 75011 Paris")
    slots = (await said(api, cid))[-1]["body"]
    assert "Quel créneau vous convient ?" in slots
    assert "Répondez 1 pour Matin 8h-12h, 2 pour Après-midi 13h-18h" in slots  # numbered
    await write(api, "7")
    assert "Quel créneau" in (await said(api, cid))[-1]["body"]  # reprompted
    await write(api, "2")
    last = (await said(api, cid))[-1]
    assert last["body"].startswith("Merci ! Un conseiller confirme votre livraison")

    events = await bot_events(api, cid)
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "FlowStarted", "QuestionAsked", "AnswerRejected", "QuestionAsked", "AnswerCollected",
        "QuestionAsked", "AnswerCollected", "QuestionAsked", "AnswerRejected", "QuestionAsked",
        "AnswerCollected", "HandedOff",
    ]  # fmt: skip
    started_detail = events[0][1]
    assert (started_detail["flow"], started_detail["version"]) == ("delivery-details", 1)
    assert started_detail["trigger"] == "keyword"
    asked = [detail for kind, detail in events if kind == "QuestionAsked"]
    outbound_ids = [m["id"] for m in await said(api, cid)]
    assert [a["message_id"] for a in asked] == outbound_ids[: len(asked)]
    assert asked[-1]["choices"] == ["morning", "afternoon", "evening"]
    handed = events[-1][1]
    assert (handed["team"], handed["priority"], handed["reason"]) == ("delivery", "normal", "step")
    assert handed["answers"] == {
        "address_confirmed": "no",
        "delivery_address": "12 rue des Lilas, 75011 Paris",
        "delivery_slot": "afternoon",
    }
    assert "Créneau : afternoon" in handed["summary"]
    assert "nouvelle adresse : 12 rue des Lilas" in handed["summary"]

    shown = await conversation(api, cid)
    assert shown["team"] == "delivery"
    assert shown["handoff"]["summary"] == handed["summary"]
    assert shown["handoff"]["answers"]["delivery_slot"] == "afternoon"
    crm = await profile(api, started["contact_id"])
    assert crm["attributes"] == {
        "address_confirmed": "no",
        "delivery_address": "12 rue des Lilas, 75011 Paris",
        "delivery_slot": "afternoon",
    }

    await write(api, "merci")  # the dialogue is over: a person answers now, not the bot
    assert len(await bot_events(api, cid)) == len(events)


async def test_appointment_booking_over_rcs_answers_by_postback(
    api: httpx.AsyncClient,
) -> None:
    await publish(api, "appointment-booking")
    started = await write(api, "RDV", Channel.RCS)
    cid = started["conversation_id"]
    (question,) = await said(api, cid)
    assert question["channel"] == "rcs"
    assert question["body"].startswith("Quand souhaitez-vous venir ?")
    await write(api, "demain à 22h", Channel.RCS)  # after closing time: refused
    assert (await bot_events(api, cid))[2][0] == "AnswerRejected"
    await write(api, "15/12 14h30", Channel.RCS)
    confirm = (await said(api, cid))[-1]
    assert confirm["channel"] == "rcs"
    assert "2026-12-15" in confirm["body"]
    await write(api, "Oui", Channel.RCS)
    assert (await said(api, cid))[-1]["body"] == "C'est noté, à bientôt !"

    kinds = [kind for kind, _ in await bot_events(api, cid)]
    assert kinds[-2:] == ["AnswerCollected", "FlowCompleted"]
    crm = await profile(api, started["contact_id"])
    assert crm["attributes"]["appointment_at"].startswith("2026-12-15T14:30")


async def test_a_suggested_reply_answers_by_its_postback_over_rcs(
    api: httpx.AsyncClient,
) -> None:
    await publish(api, "delivery-details")
    cid = (await write(api, "livraison", Channel.RCS))["conversation_id"]
    await write(api, "Oui", Channel.RCS)
    slots = (await said(api, cid))[-1]
    assert slots["body"] == "Quel créneau vous convient ?"
    suggestions = slots["rich"]["suggestions"]
    assert [s["postback_data"] for s in suggestions] == ["morning", "afternoon", "evening"]
    await write(api, suggestions[2]["text"], Channel.RCS, postback_data="evening")
    events = await bot_events(api, cid)
    collected = [d for kind, d in events if kind == "AnswerCollected"]
    assert collected[-1]["value"] == "evening"
    assert events[-1][0] == "HandedOff"


async def test_csat_over_email_started_by_the_api(api: httpx.AsyncClient) -> None:
    await publish(api, "csat")
    first = await write(api, "Bonjour, mon colis est arrivé abîmé", Channel.EMAIL)
    cid = first["conversation_id"]
    assert await said(api, cid) == []  # no flow is triggered by these words
    started = await api.post(f"/v1/conversations/{cid}/flow", json={"flow": "csat"})
    assert started.status_code == 200, started.text
    (question,) = await said(api, cid)
    assert question["channel"] == "email"
    assert question["body"].startswith("Comment évaluez-vous notre échange")

    again = await api.post(f"/v1/conversations/{cid}/flow", json={"flow": "csat"})
    assert again.status_code == 409  # a dialogue already waits here
    unknown = await api.post(f"/v1/conversations/{cid}/flow", json={"flow": "survey"})
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "flow"

    await write(api, "dix", Channel.EMAIL)
    await write(api, "2\n\n> Comment évaluez-vous notre échange", Channel.EMAIL)
    assert "Que s'est-il passé" in (await said(api, cid))[-1]["body"]
    await write(api, "Le colis était ouvert.", Channel.EMAIL)
    events = await bot_events(api, cid)
    assert events[0][1]["trigger"] == "api"
    handed = events[-1][1]
    assert events[-1][0] == "HandedOff"
    assert (handed["team"], handed["priority"]) == ("care", "high")
    assert handed["summary"] == "CSAT 2/5 : Le colis était ouvert."
    shown = await conversation(api, cid)
    assert shown["team"] == "care"
    crm = await profile(api, first["contact_id"])
    assert crm["attributes"]["csat_score"] == "2"


async def test_csat_on_resolution_resolves_again_once_answered(api: httpx.AsyncClient) -> None:
    await publish(api, "csat")
    cid = (await write(api, "Mon colis est-il parti ?", Channel.SMS))["conversation_id"]
    assignment = {"agent": "camille", "team": "support"}
    assert (await api.post(f"/v1/conversations/{cid}/assignment", json=assignment)).is_success
    resolved = await api.post(f"/v1/conversations/{cid}/resolve", json={"by": "camille"})
    assert resolved.status_code == 200, resolved.text
    (question,) = await said(api, cid)
    assert question["body"].startswith("Comment évaluez-vous notre échange")
    assert (await bot_events(api, cid))[0][1]["trigger"] == "resolution"
    assert await queued(api, None, settle=True) == []  # the bot holds it, not the queue
    await write(api, "5")
    await write(api, "Non merci")
    assert (await said(api, cid))[-1]["body"] == "Merci, à bientôt !"
    shown = await conversation(api, cid)
    assert shown["status"] == "resolved"  # as the agent left it
    assert [k for k, _ in await bot_events(api, cid)][-1] == "FlowCompleted"

    cid2 = (await write(api, "Encore moi", Channel.EMAIL))["conversation_id"]
    await api.post(f"/v1/conversations/{cid2}/resolve", json={"by": "camille"})
    await write(api, "1", Channel.EMAIL)
    await write(api, "Personne ne m'a répondu.", Channel.EMAIL)
    assert (await conversation(api, cid2))["status"] == "open"  # back to a person
    (item,) = await queued(api, "care")
    assert item["id"] == cid2
    assert item["priority"] == 2  # high
    assert item["handoff"]["summary"] == "CSAT 1/5 : Personne ne m'a répondu."

    day = {"from": "2026-12-08", "to": "2026-12-08"}
    (flow,) = (await api.get("/v1/analytics/flows", params=day)).json()["flows"]
    assert flow == {
        "flow": "csat", "started": 2, "completed": 1, "handed_off": 1, "timed_out": 0,
        "stopped": 0,
    }  # fmt: skip
    by_agent = (await api.get("/v1/analytics/csat", params={**day, "by": "agent"})).json()
    ratings = {r["name"]: r for r in by_agent["ratings"]}
    assert ratings["camille"]["average"] == 5.0
    assert ratings["camille"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    assert ratings[None]["distribution"]["1"] == 1  # nobody had the second one
    by_team = (await api.get("/v1/analytics/csat", params=day)).json()
    assert {r["name"]: r["count"] for r in by_team["ratings"]} == {"support": 1, None: 1}
    bad = await api.get("/v1/analytics/csat", params={**day, "by": "brand"})
    assert bad.status_code == 422


async def test_a_dialogue_finishes_on_the_version_it_started_on(api: httpx.AsyncClient) -> None:
    assert await publish(api, "delivery-details") == 1
    cid = (await write(api, "LIVRAISON"))["conversation_id"]
    changed = example("delivery-details").replace(
        "Quel créneau vous convient ?", "Quel créneau préférez-vous ?"
    )
    assert await publish(api, "delivery-details", changed) == 2
    await write(api, "oui")
    assert "Quel créneau vous convient ?" in (await said(api, cid))[-1]["body"]  # v1's words
    assert (await bot_events(api, cid))[0][1]["version"] == 1


async def test_agent_in_the_middle_hands_off_at_once(api: httpx.AsyncClient) -> None:
    await publish(api, "delivery-details")
    started = await write(api, "livraison")
    cid = started["conversation_id"]
    await write(api, "oui")
    await write(api, "Conseiller !")
    events = await bot_events(api, cid)
    assert events[-1][0] == "HandedOff"
    handed = events[-1][1]
    assert (handed["reason"], handed["team"], handed["step"]) == (
        "keyword",
        "delivery",
        "pick_slot",
    )
    assert handed["answers"] == {"address_confirmed": "yes"}
    queue = await queued(api, "delivery")
    assert [i["id"] for i in queue] == [cid]
    assert queue[0]["handoff"] == {
        "flow": "delivery-details",
        "reason": "keyword",
        "summary": handed["summary"],
        "answers": {"address_confirmed": "yes"},
    }


async def test_the_queue_shows_no_conversation_the_bot_still_holds(
    api: httpx.AsyncClient,
) -> None:
    await publish(api, "delivery-details")
    cid = (await write(api, "livraison"))["conversation_id"]
    await write(api, "oui")
    assert await queued(api, None, settle=True) == []
    await write(api, "3")
    (item,) = await queued(api, "delivery")
    assert item["id"] == cid
    assert "Créneau : evening" in item["handoff"]["summary"]


async def test_stop_in_the_middle_ends_the_flow_and_no_question_follows(
    api: httpx.AsyncClient,
) -> None:
    await publish(api, "delivery-details")
    cid = (await write(api, "livraison"))["conversation_id"]
    await write(api, "STOP")
    before = await said(api, cid)
    assert "Répondez OUI ou NON" not in before[-1]["body"]  # the opt-out's confirmation
    await write(api, "oui")
    assert [m["id"] for m in await said(api, cid)] == [m["id"] for m in before]  # no more
    kinds = [kind for kind, _ in await bot_events(api, cid)]
    assert kinds == ["FlowStarted", "QuestionAsked", "FlowStopped"]


async def test_a_new_conversation_on_a_flows_sender_starts_it(api: httpx.AsyncClient) -> None:
    source = example("delivery-details").replace(
        "  keywords: [LIVRAISON]", "  keywords: [LIVRAISON]\n  senders: ['09 39 00 00 01']"
    )
    await publish(api, "delivery-details", source)
    cid = (await write(api, "Bonjour"))["conversation_id"]
    events = await bot_events(api, cid)
    assert events[0][1]["trigger"] == "new_conversation"
    await write(api, "Bonjour ?")  # not the first message any more: an answer, refused
    assert (await bot_events(api, cid))[-2][0] == "AnswerRejected"
