"""The unsubscribe link a marketing email carries (RFC 2369 ``List-Unsubscribe``, with
RFC 8058's one-click ``List-Unsubscribe-Post``).

The link's token is its own credential: nobody logs in to unsubscribe, so the token says
which brand, which address and which purpose it stops, and an HMAC-SHA256 with the
deployment's secret makes it impossible to forge or to point at someone else. It holds no
expiry: an unsubscribe link must keep working as long as the email sits in a mailbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message
from email.policy import EmailPolicy, Policy
from email.policy import default as default_policy
from urllib.parse import quote
from uuid import UUID

from chainon.domain.purpose import Purpose

ROUTE = "/v1/unsubscribe/"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's POST body and header value
MAILTO_QUERY = "?subject=unsubscribe&body=UNSUBSCRIBE"  # the first line is the keyword
_MAC_BYTES = 16
_LABEL = b"chainon-unsubscribe:"
_PURPOSES = {Purpose.MARKETING: b"m", Purpose.SERVICE: b"s"}
_BY_CODE = {code: purpose for purpose, code in _PURPOSES.items()}
MAX_TOKEN = 512  # a 254-character address with its brand, purpose and MAC fits


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid token stands for."""

    brand_id: UUID
    address: str
    purpose: Purpose


class UnsubscribeLinks:
    """Mints and reads the tokens of one deployment (``public_url``: where its API answers)."""

    def __init__(self, secret: str, public_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the unsubscribe secret must be at least 16 characters")
        self._key = secret.encode()
        self.public_url = public_url.rstrip("/")

    def token(self, brand_id: UUID, address: str, purpose: Purpose) -> str:
        payload = brand_id.bytes + _PURPOSES[purpose] + address.encode()
        raw = payload + self._mac(payload)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read(self, token: str) -> Unsubscribe | None:
        """What the token stands for; None when it was not minted with our secret."""
        if not 0 < len(token) <= MAX_TOKEN:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(payload) < 18 or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        purpose = _BY_CODE.get(payload[16:17])
        try:
            address = payload[17:].decode()
        except UnicodeDecodeError:
            return None
        if purpose is None or not address:
            return None
        return Unsubscribe(UUID(bytes=payload[:16]), address, purpose)

    def url(self, token: str) -> str:
        return f"{self.public_url}{ROUTE}{token}"

    def header(self, brand_id: UUID, address: str, purpose: Purpose, *, mailto: str) -> str:
        """``List-Unsubscribe``: the one-click HTTPS link first (RFC 8058 asks for one), then
        a ``mailto:`` to the conversation's reply address whose prefilled first line is the
        ``UNSUBSCRIBE`` keyword, for clients that only write."""
        link = self.url(self.token(brand_id, address, purpose))
        return f"<{link}>, <mailto:{quote(mailto, safe='@+')}{MAILTO_QUERY}>"

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _LABEL + payload, hashlib.sha256).digest()[:_MAC_BYTES]


class _UriListHeader(UnstructuredHeader, BaseHeader):
    """Folded between its URIs only: the default folding would turn a long URI into
    RFC 2047 encoded words, which no mail client reads back as a link."""

    def fold(self, *, policy: Policy[Message[str, str]]) -> str:
        uris = [uri.strip() for uri in str(self).split(",")]
        return f"{self.name}: " + f",{policy.linesep} ".join(uris) + policy.linesep


def _policy() -> EmailPolicy[EmailMessage]:
    registry = HeaderRegistry()
    registry.map_to_type("list-unsubscribe", _UriListHeader)
    policy: EmailPolicy[EmailMessage] = default_policy.clone(header_factory=registry)
    return policy


POLICY = _policy()  # the policy of every email we compose
