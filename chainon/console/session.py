"""The console's session: a signed cookie, and the CSRF token that goes with it.

The cookie holds the brand, the agent's name, the key's id and hash (never the key: the
hash is what the brand keeps, so each request can check the key was not revoked), a CSRF
token and an expiry, signed with HMAC-SHA256 under a server-side secret. It is HttpOnly,
Secure and SameSite=Strict; the page never sees the key again after sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from uuid import UUID

from chainon.settings import Settings

COOKIE = "chainon_console"
PRE_COOKIE = "chainon_console_pre"  # the sign-in form's CSRF token, before any session


@dataclass(frozen=True)
class Session:
    brand_id: str
    agent: str
    key_id: str
    key_hash: str
    csrf: str
    expires: int

    @property
    def brand(self) -> UUID:
        return UUID(self.brand_id)


def load_secret(settings: Settings) -> bytes:
    """The setting, else a random secret kept beside the data (0600), made once."""
    configured = settings.console_secret.get_secret_value()
    if configured:
        return configured.encode()
    path: Path = settings.data_dir / "console.secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    made = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(made)
    return made


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, payload: dict[str, object]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(secret: bytes, token: str) -> dict[str, object] | None:
    body, _, mac = token.partition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        loaded = json.loads(_unb64(body))
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def new_session(brand_id: UUID, agent: str, key_id: str, key_hash: str, lifetime: int) -> Session:
    return Session(
        brand_id=str(brand_id),
        agent=agent,
        key_id=key_id,
        key_hash=key_hash,
        csrf=secrets.token_urlsafe(24),
        expires=int(time.time()) + lifetime,
    )


def encode(secret: bytes, session: Session) -> str:
    return sign(secret, asdict(session))


def decode(secret: bytes, token: str | None) -> Session | None:
    if not token:
        return None
    payload = unsign(secret, token)
    if payload is None:
        return None
    try:
        session = Session(**{k: payload[k] for k in Session.__dataclass_fields__})  # type: ignore[arg-type]
    except (KeyError, TypeError):
        return None
    if not isinstance(session.expires, int) or session.expires < time.time():
        return None
    return session


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given), expected)
