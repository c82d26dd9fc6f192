"""What Chainon mints on its reply domain, and how it reads it back.

Three kinds of names live there: the ``Message-ID`` of each message we send (our message
id, so a retry carries the same one and replies point back at it), a per-conversation
``Reply-To`` address (``reply+TOKEN@``: replies thread even when a mail client drops the
threading headers), and the bounce address that collects delivery status notifications.
The token is signed, so nobody can write into another conversation by guessing its id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from uuid import UUID

REPLY_PREFIX = "reply+"
BOUNCE_LOCAL_PART = "bounces"
_MAC_BYTES = 10  # 80 bits: forging one needs ~2**80 tries against an SMTP server
_ID_CHARS = 26  # a UUID's 16 bytes in unpadded base32
_TOKEN = re.compile(rf"^[a-z2-7]{{{_ID_CHARS + 16}}}$")
_XTEXT = re.compile(r"\+([0-9A-Fa-f]{2})")


class ReplyDomain:
    """Message-IDs, reply addresses and the bounce address of one deployment."""

    def __init__(
        self, domain: str, secret: str, previous_secrets: Sequence[str] = (), *, bounce: str = ""
    ) -> None:
        self.domain = domain.strip().lower()
        # Replies to mail signed with a rotated-out secret keep threading for a while.
        self._keys = [key.encode() for key in (secret, *previous_secrets)]
        self.bounce_address = bounce or f"{BOUNCE_LOCAL_PART}@{self.domain}"

    # Message-IDs

    def message_id(self, message_id: UUID) -> str:
        """Our provider id for a message: its ``Message-ID`` without the angle brackets."""
        return f"{message_id}@{self.domain}"

    def message_of(self, header: str) -> UUID | None:
        """Our message id inside a ``Message-ID`` we generated, None for anybody else's."""
        local, _, domain = header.strip().strip("<>").rpartition("@")
        if domain.lower() != self.domain:
            return None
        try:
            found = UUID(local)
        except ValueError:
            return None
        return found if str(found) == local.lower() else None

    def messages_in(self, header: str) -> list[UUID]:
        """Our message ids named in an ``In-Reply-To`` or ``References`` header, in order."""
        found = (self.message_of(token) for token in re.findall(r"<[^<>\s]+>", header))
        return [message for message in found if message is not None]

    # Reply-To addresses

    def reply_to(self, conversation_id: UUID) -> str:
        raw = conversation_id.bytes
        token = _b32(raw) + _b32(self._mac(self._keys[0], raw))
        return f"{REPLY_PREFIX}{token}@{self.domain}"

    def is_reply_address(self, address: str) -> bool:
        """Has the shape of one of our reply addresses (the token may still be forged)."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        return domain.lower() == self.domain and local.lower().startswith(REPLY_PREFIX)

    def conversation_of(self, address: str) -> UUID | None:
        """The conversation a reply address stands for, None unless its signature holds."""
        if not self.is_reply_address(address):
            return None
        token = address.strip().strip("<>").rpartition("@")[0][len(REPLY_PREFIX) :].lower()
        if not _TOKEN.match(token):
            return None
        try:
            raw = _unb32(token[:_ID_CHARS])
            mac = _unb32(token[_ID_CHARS:])
        except binascii.Error:
            return None
        if len(raw) != 16 or not any(
            hmac.compare_digest(mac, self._mac(key, raw)) for key in self._keys
        ):
            return None
        return UUID(bytes=raw)

    def owns(self, address: str) -> bool:
        """One of the addresses we mint: a reply address (any token) or the bounce address."""
        bare = address.strip().strip("<>").lower()
        return bare == self.bounce_address.lower() or self.is_reply_address(bare)

    @staticmethod
    def _mac(key: bytes, raw: bytes) -> bytes:
        return hmac.new(key, b"chainon-reply-to:" + raw, hashlib.sha256).digest()[:_MAC_BYTES]


def xtext(value: str) -> str:
    """RFC 3461 xtext, for the ``ENVID`` we hand the relay."""
    return "".join(
        f"+{ord(char):02X}" if char in "+=" or not 33 <= ord(char) <= 126 else char
        for char in value
    )


def unxtext(value: str) -> str:
    return _XTEXT.sub(lambda match: chr(int(match.group(1), 16)), value)


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))
