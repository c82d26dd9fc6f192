"""The deployment's unsubscribe links: the secret that signs them and the public URL they
point at (``adapters.channels.email.unsubscribe``).

The dispatcher that mints a link and the API that honours it must hold the same secret.
``CHAINON_UNSUBSCRIBE_SECRET`` says it; left empty in embedded mode, one is generated
into the data directory on first use (mode 0600, as the demo key is kept) and read back by
every later start and by the child processes, so links sent before a restart still work.
With Kafka, processes share no directory: the secret must be set, or no link is minted
(and a marketing email is refused rather than sent without one).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from chainon.adapters.channels.email.unsubscribe import UnsubscribeLinks
from chainon.settings import BusKind, Settings

SECRET_FILE = "unsubscribe.key"


def unsubscribe_links(settings: Settings) -> UnsubscribeLinks | None:
    """None while the deployment cannot mint links (no public URL, or no shared secret)."""
    secret = settings.unsubscribe_secret.get_secret_value()
    if not secret and settings.bus is BusKind.EMBEDDED:
        secret = kept_secret(settings.data_dir / SECRET_FILE)
    if not secret or not settings.public_url:
        return None
    return UnsubscribeLinks(secret, settings.public_url)


def kept_secret(path: Path) -> str:
    """The secret in ``path``, written there first when missing. Two processes starting
    at once agree: the file appears whole (linked into place) or not at all."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first: theirs
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()
