"""Bearer tokens for RBM from a Google service account (OAuth 2.0 JWT-bearer grant, RFC 7523).

google-auth reads the key file and signs the assertion; the exchange at the key's
``token_uri`` is done here, on the same ``httpx.AsyncClient`` as the API calls. google-auth's
own refresh is synchronous and needs ``requests`` (which nothing else here uses): running it
in a thread would block a pool thread per refresh and escape our timeouts and test
transport. The exchange is one form POST, so it is done natively and asynchronously.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from google.auth import jwt
from google.oauth2 import service_account

from chainon.adapters.channels.port import PermanentFailure, TemporaryFailure

SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600  # seconds; Google's maximum


class TokenRefused(PermanentFailure):
    """The token endpoint refused our assertion (wrong key, revoked account, clock...):
    no retry mends that, the key must be fixed."""


class ServiceAccountTokens:
    def __init__(
        self,
        key: Mapping[str, Any],
        http: httpx.AsyncClient,
        *,
        scope: str = SCOPE,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            dict(key), scopes=[scope]
        )
        self.token_uri: str = key["token_uri"]
        self.scope = scope
        self._http = http
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0  # on the monotonic clock
        self._lock = asyncio.Lock()
        self.grants = 0  # how many tokens were fetched

    @property
    def service_account_email(self) -> str:
        return str(self._credentials.service_account_email)

    async def token(self) -> str:
        """A token with at least ``refresh_margin`` seconds left (fetched when not)."""
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:  # concurrent sends wait for one refresh, not one each
            if not self._fresh():
                await self._refresh()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """The API refused this token (401): the next call fetches another, unless a
        concurrent call already did."""
        if self._token == token:
            self._token = None

    def assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.service_account_email,
            "scope": self.scope,
            # RFC 7523: the audience is the token endpoint (Google's own token_uri in a
            # real key file, so this is what google-auth sends too).
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        signed: bytes = jwt.encode(self._credentials.signer, claims)  # type: ignore[no-untyped-call]
        return signed.decode()

    def _fresh(self) -> bool:
        return (
            self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin
        )

    async def _refresh(self) -> None:
        form = {"grant_type": JWT_BEARER, "assertion": self.assertion()}
        try:
            response = await self._http.post(self.token_uri, data=form)
        except httpx.TransportError as exc:
            raise TemporaryFailure(f"rbm_auth: token endpoint unreachable ({exc!r})") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporaryFailure(f"rbm_auth: token endpoint answered {response.status_code}")
        if response.status_code != 200:
            raise TokenRefused(f"rbm_auth: {response.status_code} {_oauth_error(response)}")
        try:
            grant = response.json()
            token, lifetime = str(grant["access_token"]), float(grant.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise TemporaryFailure(f"rbm_auth: unreadable token response ({exc!r})") from exc
        self._token = token
        self._expires_at = time.monotonic() + lifetime
        self.grants += 1


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('error', '?')}: {body.get('error_description', '')}".strip(": ")
    except ValueError:
        return response.text[:200]
