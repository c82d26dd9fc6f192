"""``CHAINON_<NAME>_FILE``: any setting read from a file (secrets as container platforms
hand them over), refused clearly when it cannot be read or when both forms are set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import SettingsError

from chainon.settings import Settings, unknown_variables


def secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_secret_is_read_from_its_file_without_the_final_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = secret_file(tmp_path, "reply", "a-secret-long-enough-to-sign\n")
    monkeypatch.setenv("CHAINON_EMAIL_REPLY_SECRET_FILE", str(path))
    monkeypatch.setenv("CHAINON_EMAIL_REPLY_DOMAIN", "reply.maison.example")
    settings = Settings()
    assert settings.email_reply_secret.get_secret_value() == "a-secret-long-enough-to-sign"
    assert "a-secret" not in repr(settings)  # a SecretStr still: never printed


def test_a_structured_setting_is_read_as_json_from_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    links = [{"name": "aggregator", "host": "127.0.0.1", "system_id": "acme", "password": "pw"}]
    path = secret_file(tmp_path, "links", json.dumps(links))
    monkeypatch.setenv("CHAINON_SMPP_LINKS_FILE", str(path))
    found = Settings().smpp_links
    assert [link.name for link in found] == ["aggregator"]
    assert found[0].password.get_secret_value() == "pw"


def test_a_variable_and_its_file_twin_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINON_POSTGRES_DSN", "postgresql://a@127.0.0.1/x")
    monkeypatch.setenv("CHAINON_POSTGRES_DSN_FILE", str(secret_file(tmp_path, "dsn", "y")))
    with pytest.raises(SettingsError, match="CHAINON_POSTGRES_DSN and CHAINON_POSTGRES_DSN_FILE"):
        Settings()


def test_an_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("CHAINON_EMAIL_RELAY_PASSWORD_FILE", str(missing))
    expected = f"CHAINON_EMAIL_RELAY_PASSWORD_FILE: cannot read {missing}"
    with pytest.raises(SettingsError, match=expected):
        Settings()


def test_file_variables_of_known_settings_are_no_unknown_variables() -> None:
    assert unknown_variables(["CHAINON_EMAIL_RELAY_PASSWORD_FILE"]) == []
    assert unknown_variables(["CHAINON_NO_SUCH_THING_FILE"]) != []


def test_the_command_line_names_the_file_variable_in_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(tmp_path),
        "CHAINON_POSTGRES_DSN_FILE": str(tmp_path / "nowhere"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "chainon.cli", "brands", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "CHAINON_POSTGRES_DSN_FILE: cannot read" in lines[0]
