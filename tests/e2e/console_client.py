"""The console over HTTP, for its tests: signing in, reading a form's token, a consumer
who writes (the cookie-keeping client is the ``browser`` fixture of conftest.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import BRAND_SMS

CONSUMER = "+33612345678"


def hidden_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, agent: str = "alice") -> str:
    """Signs in; returns the session's CSRF token, read from the queue page."""
    form = await client.get("/console/sign-in")
    answer = await client.post(
        "/console/sign-in",
        data={"api_key": key, "agent": agent, "csrf": hidden_csrf(form.text)},
    )
    assert answer.status_code == 303, answer.text
    queue = await client.get("/console")
    assert queue.status_code == 200
    return hidden_csrf(queue.text)


async def consumer_writes(client: httpx.AsyncClient, key: str, body: str) -> dict[str, Any]:
    answer = await client.post(
        "/v1/sandbox/inbound",
        json={"from": CONSUMER, "to": BRAND_SMS, "body": body},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result
