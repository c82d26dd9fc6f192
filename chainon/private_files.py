"""Files only their owner may read: the demo brand's API key, the key that seals secrets."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, secret: str, *, replace: bool) -> None:
    """Readable by its owner only, from the first byte (never written, then chmodded).
    Without ``replace``, a file already there raises ``FileExistsError``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(f".{path.name}.new") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(secret + "\n")
    if replace:
        os.replace(target, path)
