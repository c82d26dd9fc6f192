"""Endpoint secrets sealed at rest: the store keeps them encrypted, delivery opens them.

The secrets sign every webhook, so anyone reading the store (a backup, a replica) could
forge deliveries; they are encrypted (Fernet: AES-128-CBC and HMAC-SHA256) with a key
that is not in the store: ``CHAINON_SECRETS_KEY``, or else a key file in the data
directory, made at the first start (mode 0600), as embedded mode keeps the demo's API key.
A sealed secret reads ``enc:v1:<token>``; a secret stored before sealing existed has no
prefix and is read as it is, so older events need no upcaster.

A process that cannot open the sealed secrets (no key, another deployment's key) refuses
to start, rather than sign with nothing or seal new secrets with a key nobody else has.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken

from chainon.core import Core
from chainon.domain.webhooks import WebhookEndpoints
from chainon.errors import CannotStart
from chainon.private_files import write_private
from chainon.settings import Settings, StoreKind

PREFIX = "enc:v1:"
KEY_FILE = "secrets-key"
SETTING = "CHAINON_SECRETS_KEY"
log = structlog.get_logger(__name__)
_TOPICS = [WebhookEndpoints.EndpointAdded.TOPIC, WebhookEndpoints.SecretRotated.TOPIC]


class WrongKey(Exception):
    """A sealed secret that this key does not open."""


class SecretBox:
    def __init__(self, key: str) -> None:
        self.fernet = Fernet(key)  # ValueError: not a Fernet key

    def seal(self, secret: str) -> str:
        return PREFIX + self.fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before secrets were sealed
        try:
            return self.fernet.decrypt(stored.removeprefix(PREFIX)).decode()
        except InvalidToken:
            raise WrongKey(f"{SETTING} does not open this endpoint's secret") from None


def first_sealed(core: Core) -> str | None:
    """A sealed secret from the store, if there is one (the endpoints' events are few: a
    brand has at most 20 endpoints, and rotations are rare)."""
    start = 1
    while page := core.recorder.select_notifications(start=start, limit=500, topics=_TOPICS):
        for notification in page:
            secret: str = core.mapper.to_domain_event(notification).secret  # type: ignore[attr-defined]
            if secret.startswith(PREFIX):
                return secret
        start = page[-1].id + 1
    return None


def secret_box(settings: Settings, core: Core) -> SecretBox:
    """The box for this deployment's key; ``CannotStart`` when it cannot open what the
    store holds sealed."""
    sealed = first_sealed(core)
    path = settings.data_dir / KEY_FILE
    key = settings.secrets_key.get_secret_value() or _kept(path)
    if not key:
        if sealed is not None:
            raise CannotStart(
                f"the webhook secrets are sealed and no key was given (nor found in {path})",
                setting=SETTING,
            )
        key = _made(path)
    if settings.store is StoreKind.POSTGRES and not settings.secrets_key.get_secret_value():
        # Processes on other machines have other data directories, hence other keys.
        log.warning("secrets.key_file", path=str(path), advice=f"set {SETTING} on every process")
    try:
        box = SecretBox(key)
    except ValueError:
        raise CannotStart(
            "not a Fernet key (32 bytes, url-safe base64; "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())")',
            setting=SETTING,
        ) from None
    if sealed is not None:
        try:
            box.open(sealed)
        except WrongKey:
            raise CannotStart(
                "this key does not open the webhook secrets the store holds (sealed with "
                "another key)",
                setting=SETTING,
            ) from None
    return box


def _kept(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def _made(path: Path) -> str:
    """A new key in ``path``, whole before it has that name (written aside, then linked):
    the processes of one start race here, and the loser reads the winner's key."""
    key = Fernet.generate_key().decode()
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        write_private(aside, key, replace=True)
        try:
            os.link(aside, path)
        except FileExistsError:  # another process of this deployment made it first
            return _kept(path)
        finally:
            aside.unlink()
    except OSError as exc:
        raise CannotStart(f"cannot write {path}: {exc.strerror}", setting=SETTING) from None
    return key
