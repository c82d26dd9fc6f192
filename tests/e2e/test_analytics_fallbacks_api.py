"""Fallbacks in the analytics API: real RCS sends fall back, the day counts them by reason."""

from __future__ import annotations

import httpx
import pytest

from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.runtime import Runtime
from tests.conftest import CONSUMER, BrandWithKey
from tests.e2e.test_analytics_api import around_today
from tests.e2e.test_api import wait_for_status

pytestmark = pytest.mark.asyncio


async def test_fallbacks_are_counted_by_reason_on_the_rcs_row(
    api: httpx.AsyncClient, sqlite_runtime: Runtime, brand: BrandWithKey
) -> None:
    runtime = sqlite_runtime
    runtime.core.add_sender(brand.id, Channel.RCS, "maison-lumiere-agent")
    silent = await api.put(f"/v1/sandbox/outcomes/{CONSUMER}", json={"outcome": "silent"})
    assert silent.status_code == 204  # no DELIVERED receipt to settle the plan first
    rcs = (await api.post("/v1/messages", json={"to": CONSUMER, "body": "Votre colis"})).json()
    assert rcs["channel"] == "rcs", rcs
    cid, mid = rcs["conversation_id"], rcs["message_id"]
    # Handed to the provider (and any capability check it makes recorded) before we say
    # the handset lacks RCS: a later check could otherwise say the opposite.
    await wait_for_status(api, cid, mid, "sent")
    # Its deadline, enforced now by an operator, and the revocation answered: the SMS goes.
    await runtime.handle(cmd.EnforceFallbackDeadline(conversation_id=cid, message_id=mid, now=True))
    await runtime.handle(
        cmd.RecordRevocation(conversation_id=cid, message_id=mid, result="revoked")
    )
    # Then the handset is known not to take RCS: the next send goes by SMS at once.
    await runtime.handle(cmd.RecordCapability(conversation_id=cid, capable=False))
    sms = (await api.post("/v1/messages", json={"to": CONSUMER, "body": "Rappel"})).json()
    assert sms["channel"] == "sms", sms

    params = {**around_today(), "min_position": sms["position"]}
    body = (await api.get("/v1/analytics", params=params)).json()
    assert body["caught_up"] is True
    days = {d["channel"]: d for d in body["days"]}
    assert days["rcs"]["fallbacks"] == 2
    assert days["rcs"]["fallbacks_by_reason"] == {"deadline": 1, "not_capable": 1}
    assert (days["sms"]["fallbacks"], days["sms"]["fallbacks_by_reason"]) == (0, {})
    assert days["sms"]["messages_out"] == 2  # the replacement and the straight SMS
