"""The scope each route asks of an API key, in one table.

Every route that takes a key is listed here (a unit test walks the app and fails on a
route that is not); a route missing at run time asks for ``admin``, so that forgetting
it refuses narrow keys rather than letting them through. A key with ``admin`` may call
every route.
"""

from __future__ import annotations

from chainon.domain.access import Scope

SEND = Scope.MESSAGES_SEND
READ = Scope.CONVERSATIONS_READ
WRITE = Scope.CONVERSATIONS_WRITE
CONTACTS_READ = Scope.CONTACTS_READ
CONTACTS_WRITE = Scope.CONTACTS_WRITE
ANALYTICS = Scope.ANALYTICS_READ
ADMIN = Scope.ADMIN

ROUTE_SCOPES: dict[tuple[str, str], Scope] = {
    # sends
    ("POST", "/v1/messages"): SEND,
    ("POST", "/v1/messages/batch"): SEND,
    ("POST", "/v1/conversations/{conversation_id}/messages"): SEND,
    # conversations and the agent queue
    ("GET", "/v1/conversations"): READ,
    ("GET", "/v1/conversations/{conversation_id}"): READ,
    ("POST", "/v1/conversations/{conversation_id}/flow"): WRITE,
    ("POST", "/v1/conversations/{conversation_id}/assignment"): WRITE,
    ("POST", "/v1/conversations/{conversation_id}/tags"): WRITE,
    ("POST", "/v1/conversations/{conversation_id}/resolve"): WRITE,
    ("POST", "/v1/conversations/{conversation_id}/reopen"): WRITE,
    ("POST", "/v1/conversations/{conversation_id}/priority"): WRITE,
    ("GET", "/v1/queue"): READ,
    ("GET", "/v1/queue/stream"): READ,
    ("POST", "/v1/queue/next"): WRITE,
    ("GET", "/v1/flows"): READ,  # which flows an agent may start in a conversation
    ("GET", "/v1/flows/{name}"): READ,
    # contacts and their consent
    ("GET", "/v1/contacts"): CONTACTS_READ,
    ("GET", "/v1/contacts/search"): CONTACTS_READ,
    ("GET", "/v1/contacts/{contact_id}"): CONTACTS_READ,
    ("GET", "/v1/contacts/{contact_id}/profile"): CONTACTS_READ,
    ("GET", "/v1/contacts/{contact_id}/consent"): CONTACTS_READ,
    ("PATCH", "/v1/contacts/{contact_id}"): CONTACTS_WRITE,
    ("DELETE", "/v1/contacts/{contact_id}"): ADMIN,  # erasure
    ("POST", "/v1/contacts/{contact_id}/addresses"): CONTACTS_WRITE,
    ("POST", "/v1/contacts/{contact_id}/consent"): CONTACTS_WRITE,
    ("POST", "/v1/consent/import"): CONTACTS_WRITE,
    # analytics
    ("GET", "/v1/analytics"): ANALYTICS,
    ("GET", "/v1/analytics/flows"): ANALYTICS,
    ("GET", "/v1/analytics/csat"): ANALYTICS,
    # the brand's configuration, campaigns, webhooks, agents, the sandbox
    ("GET", "/v1/campaigns"): ADMIN,
    ("POST", "/v1/campaigns"): ADMIN,
    ("GET", "/v1/campaigns/{campaign_id}"): ADMIN,
    ("PUT", "/v1/campaigns/{campaign_id}/audience"): ADMIN,
    ("POST", "/v1/campaigns/{campaign_id}/dry-run"): ADMIN,
    ("POST", "/v1/campaigns/{campaign_id}/schedule"): ADMIN,
    ("POST", "/v1/campaigns/{campaign_id}/pause"): ADMIN,
    ("POST", "/v1/campaigns/{campaign_id}/resume"): ADMIN,
    ("POST", "/v1/campaigns/{campaign_id}/cancel"): ADMIN,
    ("PUT", "/v1/fallback/settings"): ADMIN,
    ("GET", "/v1/consent/settings"): ADMIN,
    ("PUT", "/v1/consent/settings"): ADMIN,
    ("GET", "/v1/sending/limits"): ADMIN,
    ("PUT", "/v1/sending/limits"): ADMIN,
    ("GET", "/v1/sending/blocks"): ADMIN,
    ("DELETE", "/v1/sending/blocks/{prefix}"): ADMIN,
    ("PUT", "/v1/queue/settings"): ADMIN,
    ("GET", "/v1/agents"): ADMIN,
    ("GET", "/v1/routing"): ADMIN,
    ("PUT", "/v1/routing"): ADMIN,
    ("POST", "/v1/keys"): ADMIN,
    ("DELETE", "/v1/keys/{key_id}"): ADMIN,
    ("GET", "/v1/audit"): ADMIN,
    ("POST", "/v1/agents"): ADMIN,
    ("PUT", "/v1/agents/{agent}"): ADMIN,
    ("PATCH", "/v1/agents/{agent}"): ADMIN,
    ("PUT", "/v1/flows/{name}"): ADMIN,
    ("GET", "/v1/webhooks/endpoints"): ADMIN,
    ("POST", "/v1/webhooks/endpoints"): ADMIN,
    ("GET", "/v1/webhooks/endpoints/{endpoint_id}"): ADMIN,
    ("PATCH", "/v1/webhooks/endpoints/{endpoint_id}"): ADMIN,
    ("DELETE", "/v1/webhooks/endpoints/{endpoint_id}"): ADMIN,
    ("POST", "/v1/webhooks/endpoints/{endpoint_id}/rotate"): ADMIN,
    ("GET", "/v1/webhooks/endpoints/{endpoint_id}/attempts"): ADMIN,
    ("POST", "/v1/webhooks/endpoints/{endpoint_id}/replay"): ADMIN,
    ("POST", "/v1/sandbox/inbound"): ADMIN,
    ("PUT", "/v1/sandbox/outcomes/{address}"): ADMIN,
}


def scope_of(method: str, path: str) -> Scope:
    """The scope a route asks for, from its method and path template; ``admin`` for a
    route not in the table."""
    if method == "HEAD":
        method = "GET"
    return ROUTE_SCOPES.get((method, path), ADMIN)
