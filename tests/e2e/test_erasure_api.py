"""Erasing a contact through the API (``DELETE /v1/contacts/{id}``) and the command line
(``chainon contacts erase ID --brand acme``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.event_store import store_env
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, register
from tests.e2e.conftest import Run, refused

PHONE = "0612345670"
BODY = "Mon adresse est 12 rue des Lilas"


async def a_conversation(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.post(
        "/v1/sandbox/inbound", json={"from": PHONE, "to": BRAND_SMS, "body": BODY}
    )
    assert response.status_code == 202, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_delete_erases_the_contact_and_a_second_delete_is_harmless(
    api: httpx.AsyncClient,
) -> None:
    sent = await a_conversation(api)
    contact, conversation = sent["contact_id"], sent["conversation_id"]
    before = (await api.get(f"/v1/contacts/{contact}")).json()
    assert before["erased"] is False
    assert before["addresses"][0]["value"] == "+33612345670"

    first = await api.delete(f"/v1/contacts/{contact}")
    assert first.status_code == 204, first.text
    assert first.content == b""
    again = await api.delete(f"/v1/contacts/{contact}")
    assert again.status_code == 204, again.text
    trail = (await api.get("/v1/audit", params={"action": "contact.erased"})).json()
    entries = trail["items"]
    assert [(e["subject"], e["detail"]) for e in entries] == [
        (contact, {"recorded": "false"}),  # newest first: the second DELETE
        (contact, {"recorded": "true"}),
    ]
    assert entries[1]["request_id"] == first.headers["x-request-id"]

    after = await api.get(f"/v1/contacts/{contact}")
    assert after.status_code == 200, after.text
    assert after.json()["erased"] is True
    assert after.json()["addresses"] == [{"kind": "phone", "value": "erased"}]
    page = (await api.get(f"/v1/conversations/{conversation}")).json()
    assert BODY not in str(page)
    assert "+33612345670" not in str(page)
    assert "erased" in str(page)


async def test_another_brands_contact_or_a_missing_one_is_404(
    api: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    sent = await a_conversation(api)
    other = register(sqlite_runtime, slug="autre-maison", sms="+33939000002")
    theirs = await api.delete(
        f"/v1/contacts/{sent['contact_id']}", headers={"Authorization": f"Bearer {other.key}"}
    )
    assert theirs.status_code == 404, theirs.text
    missing = await api.delete("/v1/contacts/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404, missing.text
    still = (await api.get(f"/v1/contacts/{sent['contact_id']}")).json()
    assert still["erased"] is False


async def test_delete_spends_from_the_admin_rate_family(api: httpx.AsyncClient) -> None:
    from chainon.api.scopes import scope_of
    from chainon.domain.access import Scope
    from chainon.rate_limits import Family, family_of

    assert scope_of("DELETE", "/v1/contacts/{contact_id}") is Scope.ADMIN

    assert family_of("DELETE", "/v1/contacts/{contact_id}") is Family.ADMIN
    assert family_of("GET", "/v1/contacts/{contact_id}") is Family.READS


def test_the_command_erases_and_says_what_it_cannot_reach(
    chainon: Run, acme: str, data_dir: Path
) -> None:
    settings = Settings(store=StoreKind.SQLITE, data_dir=data_dir, demo_brand=False)
    core = Core(store_env(settings))
    try:
        outcome = core.handle(
            cmd.ReceiveMessage(
                provider="p",
                provider_message_id="1",
                channel=Channel.SMS,
                sender=PHONE,
                recipient="+33939000001",
                body=BODY,
            )
        )
    finally:
        core.close()
    contact = str(outcome.contact_id)
    erased = chainon("contacts", "erase", contact, "--brand", "acme")
    assert erased.exit_code == 0, erased.output
    assert f"contact {contact} erased" in erased.stdout
    assert "chainon projections rebuild all" in erased.stdout
    again = chainon("contacts", "erase", contact, "--brand", "acme")
    assert again.exit_code == 0, again.output
    assert "erased already" in again.stdout
    line = refused(
        chainon("contacts", "erase", "00000000-0000-4000-8000-000000000000", "--brand", "acme")
    )
    assert "no contact" in line
