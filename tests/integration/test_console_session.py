"""The console's session cookie and language choice."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

from chainon.console import i18n
from chainon.console.session import decode, encode, load_secret, new_session
from chainon.settings import Settings

SECRET = b"s" * 32


def test_a_session_reads_back_only_with_its_secret_and_untouched() -> None:
    session = new_session(uuid4(), "alice", "abc", "hash", lifetime=60)
    token = encode(SECRET, session)
    assert decode(SECRET, token) == session
    assert decode(b"another secret", token) is None
    body, _, mac = token.partition(".")
    forged = encode(b"x", replace(session, agent="mallory")).partition(".")[0]
    assert decode(SECRET, f"{forged}.{mac}") is None
    assert decode(SECRET, f"{body}.{mac[:-2]}") is None
    assert decode(SECRET, "not a token") is None


def test_an_expired_session_is_refused() -> None:
    session = replace(new_session(uuid4(), "a", "k", "h", 60), expires=int(time.time()) - 1)
    assert decode(SECRET, encode(SECRET, session)) is None


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    made = load_secret(settings)
    assert len(made) == 64
    assert load_secret(settings) == made
    assert (tmp_path / "console.secret").stat().st_mode & 0o777 == 0o600
    assert load_secret(Settings(data_dir=tmp_path, console_secret="configured")) == b"configured"


def test_the_language_is_the_cookies_then_the_browsers_best() -> None:
    assert i18n.pick("fr", "en") == "fr"
    assert i18n.pick(None, "de-DE, fr;q=0.8, en;q=0.5") == "fr"
    assert i18n.pick(None, "en;q=0.4, fr-CA;q=0.9") == "fr"
    assert i18n.pick("xx", "es") == "en"
    assert i18n.STRINGS["en"].keys() == i18n.STRINGS["fr"].keys()
