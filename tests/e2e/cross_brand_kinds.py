"""What the cross-brand test needs to name the owner's objects: for every path parameter of
the API, how to make one (``KINDS``), what one that exists nowhere looks like, and a valid
body for each operation that takes one (``BODIES``).

The test reads the routes from ``/openapi.json``: a route whose path parameter or body is
not described here fails it, so a new route is covered the day it is added, by whoever adds
it adding one line here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from chainon.runtime import Runtime
from tests.conftest import BRAND_SMS, CONSUMER, ROOT
from tests.e2e.test_sending_limits_api import limits, send

NAMESPACE = uuid.UUID("6f1d3c2e-0000-4000-8000-00000000c0de")
FLOW = "csat"
OWNERS_ONLY_FLOW = "owners-only"  # the outsider publishes its own FLOW, never this one
AGENT = "camille"
BLOCKED_PREFIX = "+3361234"  # the first 8 characters of the numbers sent to in a burst
YAML = {"Content-Type": "application/yaml"}
CSV = {"Content-Type": "text/csv"}


@dataclass(frozen=True)
class Owned:
    """The owner's objects, one of each kind a path parameter names."""

    conversation_id: str
    contact_id: str
    campaign_id: str
    endpoint_id: str
    key_id: str  # a second key of the owner's (the first is the one the test reads with)


@dataclass(frozen=True)
class Kind:
    """One path parameter: the owner's value, and one that exists nowhere.

    ``scoped``: the route looks the object up among the caller's own, and answers 404 when it
    is not there. Otherwise the value names something in the caller's own namespace (an
    agent's name, a flow's name, an address): the other brand's call then acts on its own
    object of that name, exactly as with a name it never used.
    """

    owner: Callable[[Owned], str]
    missing: str
    scoped: bool = True


def _missing(kind: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"missing {kind}"))


KINDS: dict[str, Kind] = {
    "conversation_id": Kind(lambda a: a.conversation_id, _missing("conversation")),
    "contact_id": Kind(lambda a: a.contact_id, _missing("contact")),
    "campaign_id": Kind(lambda a: a.campaign_id, _missing("campaign")),
    "endpoint_id": Kind(lambda a: a.endpoint_id, _missing("endpoint")),
    "key_id": Kind(lambda a: a.key_id, "000000000000"),
    "prefix": Kind(lambda _: BLOCKED_PREFIX, "+3369999"),  # lifting an unblocked one: 404
    "name": Kind(lambda _: FLOW, "never-published", scoped=False),  # a flow's
    "agent": Kind(lambda _: AGENT, "nobody-here", scoped=False),
    "address": Kind(lambda _: CONSUMER, "+33600000099", scoped=False),  # sandbox outcomes
}
# Operations that look a name of ``scoped=False`` kind up among the caller's own, and answer
# 404 for one it never enrolled: an agent's role is changed only once the agent is enrolled.
LOOKED_UP = {("PATCH", "/v1/agents/{agent}")}
# No brand key is asked: the signed token is the credential (tests/e2e/test_unsubscribe_api).
# The test checks that these operations indeed declare no security.
PUBLIC = {"token"}


def _flow(name: str) -> dict[str, Any]:
    text = (ROOT / "examples" / "flows" / f"{FLOW}.yaml").read_text()
    return {"content": text.replace(f"name: {FLOW}\n", f"name: {name}\n", 1), "headers": YAML}


# (METHOD, path) → the request's body, given the path's values: valid, so that what answers
# is the lookup, not the validation. Operations without a required body may be absent.
BODIES: dict[tuple[str, str], Callable[[dict[str, str]], dict[str, Any]]] = {
    ("PUT", "/v1/campaigns/{campaign_id}/audience"): lambda _: {
        "content": b"to\ncamille@example.org\n",
        "headers": CSV,
    },
    ("POST", "/v1/campaigns/{campaign_id}/schedule"): lambda _: {"json": {}},
    ("POST", "/v1/conversations/{conversation_id}/messages"): lambda _: {"json": {"body": "Oui ?"}},
    ("POST", "/v1/conversations/{conversation_id}/flow"): lambda _: {"json": {"flow": FLOW}},
    ("POST", "/v1/conversations/{conversation_id}/assignment"): lambda _: {
        "json": {"agent": AGENT}
    },
    ("POST", "/v1/conversations/{conversation_id}/tags"): lambda _: {"json": {"add": ["VIP"]}},
    ("POST", "/v1/conversations/{conversation_id}/resolve"): lambda _: {"json": {"by": "them"}},
    ("POST", "/v1/conversations/{conversation_id}/reopen"): lambda _: {"json": {}},
    ("POST", "/v1/conversations/{conversation_id}/priority"): lambda _: {"json": {"priority": 2}},
    ("PATCH", "/v1/contacts/{contact_id}"): lambda _: {"json": {"name": "Intrus"}},
    ("POST", "/v1/contacts/{contact_id}/addresses"): lambda _: {
        "json": {"address": "intrus@example.org"}
    },
    ("POST", "/v1/contacts/{contact_id}/consent"): lambda _: {
        "json": {"action": "revoke", "purpose": "marketing"}
    },
    ("PUT", "/v1/sandbox/outcomes/{address}"): lambda _: {"json": {"outcome": "fail"}},
    ("PUT", "/v1/agents/{agent}"): lambda _: {"json": {"capacity": 9}},
    ("PATCH", "/v1/agents/{agent}"): lambda _: {"json": {"role": "supervisor", "teams": []}},
    ("PATCH", "/v1/webhooks/endpoints/{endpoint_id}"): lambda _: {"json": {"enabled": False}},
    ("POST", "/v1/webhooks/endpoints/{endpoint_id}/replay"): lambda _: {
        "json": {"since": "2026-01-01T00:00:00Z"}
    },
    ("PUT", "/v1/flows/{name}"): lambda values: _flow(values["name"]),
}


async def populate(api: httpx.AsyncClient, runtime: Runtime) -> Owned:
    """The owner's data: one object of every kind a path parameter names, and more around
    them (a reply, tags, an assignment, consent) so that a change would show."""

    async def ok(response: Awaitable[httpx.Response]) -> dict[str, Any]:
        answer = await response
        assert answer.status_code < 300, (answer.request.url, answer.text)
        return answer.json() if answer.content else {}

    opened = await ok(
        api.post("/v1/sandbox/inbound", json={"from": CONSUMER, "to": BRAND_SMS, "body": "Bonjour"})
    )
    conversation, contact = opened["conversation_id"], opened["contact_id"]
    await ok(api.post(f"/v1/conversations/{conversation}/assignment", json={"agent": AGENT}))
    await ok(api.post(f"/v1/conversations/{conversation}/tags", json={"add": ["Livraison"]}))
    await ok(api.post(f"/v1/conversations/{conversation}/messages", json={"body": "Bien reçu"}))
    await ok(api.patch(f"/v1/contacts/{contact}", json={"name": "Léa", "attributes": {"k": "v"}}))
    grant = {"action": "grant", "purpose": "marketing"}
    await ok(api.post(f"/v1/contacts/{contact}/consent", json=grant))
    await ok(api.put(f"/v1/agents/{AGENT}", json={"capacity": 3}))
    enrolled = {"name": AGENT, "role": "agent", "teams": ["livraison"]}
    await ok(api.post("/v1/agents", json=enrolled))
    key_id = (await ok(api.post("/v1/keys", json={"label": "second"})))["id"]
    for flow in (FLOW, OWNERS_ONLY_FLOW):
        await ok(api.put(f"/v1/flows/{flow}", **_flow(flow)))
    draft = {"name": "Soldes", "template": "-20% !", "channel": "email", "audience": "csv"}
    campaign = (await ok(api.post("/v1/campaigns", json=draft)))["id"]
    hook = {"url": "https://hooks.example.com/chainon", "events": ["campaign.finished"]}
    endpoint = (await ok(api.post("/v1/webhooks/endpoints", json=hook)))["id"]
    await limits(api, prefix_burst=5, prefix_burst_factor=2)
    for i in range(6):
        await send(api, runtime, f"{BLOCKED_PREFIX}50{i:02d}")
    blocks = await ok(api.get("/v1/sending/blocks"))
    assert [block["prefix"] for block in blocks["blocks"]] == [BLOCKED_PREFIX]
    return Owned(conversation, contact, campaign, endpoint, key_id)
