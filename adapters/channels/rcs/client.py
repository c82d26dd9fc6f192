"""Google's RCS Business Messaging (RBM) REST API: an async client.

Every call may be repeated safely, so throttling (429), server errors and dropped
connections are retried here a few times with the same ids: RBM ignores a message or event
whose id it has already seen. What is left after the retries is a ``TemporaryFailure`` for
the dispatcher. The payload shapes are in ``content``, tokens in ``auth``; the
channel provider built on this client is in ``provider``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

import httpx

from chainon.adapters.channels.port import NotCapable, PermanentFailure, TemporaryFailure
from chainon.adapters.channels.rcs.auth import ServiceAccountTokens
from chainon.adapters.channels.rcs.content import content_message
from chainon.domain.rich_content import RichContent

API = "https://rcsbusinessmessaging.googleapis.com"
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True)
class RbmSettings:
    # The agent a call acts for when it names none (users.batchGet); each call may name
    # its own, since one service account can act for several agents.
    agent_id: str
    service_account: Mapping[str, Any]  # the key file; tokens come from its token_uri
    client_token: str = ""  # the webhook's, to check X-Goog-Signature
    api_base_url: str = API
    timeout: float = 10.0
    retries: int = 2  # after the first attempt
    backoff: float = 0.5  # seconds, doubled per retry
    max_retry_after: float = 10.0  # a longer Retry-After is left to the dispatcher
    token_refresh_margin: float = 300.0


class NotRcsUser(NotCapable):
    """RBM cannot reach this number (no RCS, RCS off, or a carrier the agent is not
    launched on): the message should go by SMS (the core keys on "not_capable")."""

    def __init__(self, phone: str) -> None:
        super().__init__()
        self.phone = phone


class AgentEventType(StrEnum):
    READ = "READ"
    IS_TYPING = "IS_TYPING"


@dataclass(frozen=True)
class Capability:
    phone: str
    reachable: bool
    features: frozenset[str] = frozenset()  # RICHCARD_STANDALONE, ACTION_OPEN_URL...


@dataclass(frozen=True)
class Revoked:
    """RBM took the message out of the consumer's queue: it will never be delivered."""

    message_id: UUID


@dataclass(frozen=True)
class AlreadyDelivered:
    """RBM answered 404: the revocation failed because the message was delivered."""

    message_id: UUID


class RbmClient:
    def __init__(self, settings: RbmSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.AsyncClient(timeout=settings.timeout)
        self._owns_http = http is None
        self.tokens = ServiceAccountTokens(
            settings.service_account, self._http, refresh_margin=settings.token_refresh_margin
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def capability(
        self, phone: str, request_id: UUID | None = None, *, agent_id: str | None = None
    ) -> Capability:
        """What RCS features the number has; a 404 is RBM's way of saying it has none."""
        response = await self._call(
            "GET",
            f"/v1/phones/{_e164(phone)}/capabilities",
            params={"requestId": str(request_id or uuid4())},
            agent_id=agent_id,
        )
        if response.status_code == 404:
            return Capability(phone, reachable=False)
        _raise_for(response)
        features = frozenset(_json(response).get("features", []))
        return Capability(phone, reachable=True, features=features)

    async def batch_capable(self, phones: Iterable[str]) -> frozenset[str]:
        """The numbers RBM can reach on a carrier the agent is launched on (users.batchGet)."""
        users = [_e164(phone) for phone in phones]
        if not users:
            return frozenset()
        body = {"users": users, "agentId": self.settings.agent_id}
        response = await self._call("POST", "/v1/users:batchGet", json=body, with_agent=False)
        _raise_for(response)
        return frozenset(_json(response).get("reachableUsers", []))

    async def send(
        self,
        phone: str,
        message_id: UUID,
        content: RichContent,
        *,
        ttl: timedelta | None = None,
        expire_time: datetime | None = None,
        agent_id: str | None = None,
    ) -> str:
        """Sends the message under our id (RBM's ``messageId``, which its receipts name).

        A retry with the same id is safe: RBM ignores an id it has already seen."""
        if ttl is not None and expire_time is not None:
            raise ValueError("ttl, expire_time: give one or the other (RBM takes either)")
        body: dict[str, Any] = {"contentMessage": content_message(content)}
        if ttl is not None:
            body["ttl"] = _duration(ttl)
        if expire_time is not None:
            body["expireTime"] = expire_time.astimezone(UTC).isoformat().replace("+00:00", "Z")
        response = await self._call(
            "POST",
            f"/v1/phones/{_e164(phone)}/agentMessages",
            params={"messageId": str(message_id)},
            json=body,
            agent_id=agent_id,
        )
        if response.status_code == 404:
            raise NotRcsUser(phone)
        if response.status_code != 409:  # already seen: an earlier attempt got through
            _raise_for(response)
        return str(message_id)

    async def revoke(
        self, phone: str, message_id: UUID, *, agent_id: str | None = None
    ) -> Revoked | AlreadyDelivered:
        """Takes an undelivered message back (phones.agentMessages.delete).

        RBM's reference: 200 means revoked, 404 means the revocation failed because the
        message was delivered. A 404 is also all RBM could say of an id it never queued,
        so no separate "not found" is offered: reading a 404 as "safe to send by SMS"
        would send some consumers the message twice."""
        response = await self._call(
            "DELETE", f"/v1/phones/{_e164(phone)}/agentMessages/{message_id}", agent_id=agent_id
        )
        if response.status_code == 404:
            return AlreadyDelivered(message_id)
        _raise_for(response)
        return Revoked(message_id)

    async def agent_event(
        self,
        phone: str,
        event_id: UUID,
        event_type: AgentEventType,
        message_id: str | None = None,
        *,
        agent_id: str | None = None,
    ) -> None:
        """Tells the consumer we read their message (READ names it) or are typing."""
        if event_type is AgentEventType.READ and not message_id:
            raise ValueError("message_id: a READ event names the consumer's message")
        body = {"eventType": event_type.value}
        if message_id:
            body["messageId"] = message_id
        response = await self._call(
            "POST",
            f"/v1/phones/{_e164(phone)}/agentEvents",
            params={"eventId": str(event_id)},
            json=body,
            agent_id=agent_id,
        )
        if response.status_code == 404:
            raise NotRcsUser(phone)
        _raise_for(response)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        agent_id: str | None = None,
        with_agent: bool = True,
    ) -> httpx.Response:
        agent = {"agentId": agent_id or self.settings.agent_id} if with_agent else {}
        query = {**(params or {}), **agent}
        url = self.settings.api_base_url.rstrip("/") + path
        attempt, reauthorized = 0, False
        while True:
            wait: float | None = None
            try:
                token = await self.tokens.token()
                headers = {"Authorization": f"Bearer {token}"}
                response = await self._http.request(
                    method, url, params=query, json=json, headers=headers
                )
            except httpx.TransportError as exc:
                failure = TemporaryFailure(f"rbm unreachable: {exc!r}")
            except TemporaryFailure as exc:  # the token endpoint, throttled or down
                failure = exc
            else:
                if response.status_code == 401 and not reauthorized:
                    # The token was revoked or expired early: one fresh token, same call.
                    self.tokens.invalidate(token)
                    reauthorized = True
                    continue
                if response.status_code != 429 and response.status_code < 500:
                    return response
                failure = TemporaryFailure(f"rbm {_describe(response)}")
                wait = _retry_after(response)
            if attempt >= self.settings.retries or (
                wait is not None and wait > self.settings.max_retry_after
            ):
                raise failure
            await asyncio.sleep(wait if wait is not None else self.settings.backoff * 2**attempt)
            attempt += 1


class InvalidPhone(ValueError):
    """RBM addresses consumers by E.164 number only."""


def _e164(phone: str) -> str:
    if not _E164.fullmatch(phone):
        raise InvalidPhone(f"{phone!r} is not an E.164 number")
    return phone


def _duration(span: timedelta) -> str:
    """Google's Duration JSON: seconds with up to nine decimals and an "s" ("3600s")."""
    whole, micros = divmod(span // timedelta(microseconds=1), 1_000_000)
    return f"{whole}s" if not micros else f"{whole}.{micros:06d}".rstrip("0") + "s"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise TemporaryFailure(f"rbm: unreadable answer ({exc!r})") from exc
    if not isinstance(body, dict):
        raise TemporaryFailure("rbm: the answer is not a JSON object")
    return body


def _raise_for(response: httpx.Response) -> None:
    """A refusal after the retries (4xx) is permanent: resending the same request cannot
    change RBM's mind."""
    if response.status_code == 401:
        raise PermanentFailure(f"rbm_auth: {_describe(response)}")
    if response.status_code >= 400:
        raise PermanentFailure(f"rbm {_describe(response)}"[:500])


def _describe(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error.get('status', '')}: {error.get('message', '')}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"{response.status_code} {response.text[:200]}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: back off on our own schedule
