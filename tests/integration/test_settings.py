"""The settings the README documents are the ones the code reads, and a variable no
setting reads is named at start instead of silently ignored."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainon.settings import Settings, setting_names, unknown_variables, warn_unknown_variables

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_NAME = re.compile(r"`(CHAINON_[A-Z0-9_]+|_[A-Z0-9_]+)`")


def readme_setting_names() -> set[str]:
    """The names in the first column of the README's tables; ```_PORT``` after
    ```CHAINON_EMAIL_RELAY_HOST``` stands for ``CHAINON_EMAIL_RELAY_PORT``."""
    names: set[str] = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `CHAINON_"):
            continue
        first_cell = line.split("|")[1]
        written = _NAME.findall(first_cell)
        stem = written[0].rpartition("_")[0]
        names.update(name if name.startswith("CHAINON_") else stem + name for name in written)
    return names


def test_every_setting_is_in_the_readme_tables_and_every_name_there_is_read() -> None:
    documented = readme_setting_names()
    assert {"CHAINON_EMAIL_RELAY_STARTTLS", "CHAINON_EMAIL_INBOUND_MAX_BYTES"} <= documented
    assert sorted(documented - setting_names()) == [], "documented, but no setting reads it"
    assert sorted(setting_names() - documented) == [], "read, but not in the README's tables"


def test_the_readme_email_names_configure_the_email_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "CHAINON_EMAIL_REPLY_DOMAIN": "reply.maison.example",
        "CHAINON_EMAIL_REPLY_SECRET": "a-secret-long-enough-to-sign",
        "CHAINON_EMAIL_RELAY_HOST": "smtp.maison.example",
        "CHAINON_EMAIL_RELAY_PORT": "465",
        "CHAINON_EMAIL_RELAY_STARTTLS": "false",
        "CHAINON_EMAIL_RELAY_USERNAME": "chainon",
        "CHAINON_EMAIL_RELAY_PASSWORD": "hunter2",
        "CHAINON_EMAIL_INBOUND_MAX_BYTES": "2048",
        "CHAINON_EMAIL_SUBJECT": "Maison {brand}",
    }.items():
        monkeypatch.setenv(name, value)

    email = Settings().email()

    assert email is not None
    assert (email.relay_host, email.relay_port, email.starttls) == (
        "smtp.maison.example",
        465,
        False,
    )
    assert email.username == "chainon"
    assert email.password is not None
    assert email.password.get_secret_value() == "hunter2"
    assert email.data_size_limit == 2048
    assert email.subject == "Maison {brand}"


def test_a_subject_with_an_unknown_placeholder_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="email_subject"):
        Settings(email_subject="{customer}")


def test_unknown_variables_are_named_with_the_setting_meant() -> None:
    warnings = unknown_variables(
        [
            "CHAINON_EMAIL_STARTTLS",  # the name earlier versions read
            "CHAINON_LOG_LEVLE",  # a typo
            "CHAINON_WHATEVER",
            "chainon_port",  # read: pydantic-settings ignores the case
            "CHAINON_DATA_DIR",
            "CHAINON_TEST_POSTGRES_DSN",  # the test suite's own
            "CHAINON_BENCH_KAFKA_BOOTSTRAP",  # the benchmarks'
            "CHAINON_PG_BINDIR",  # infra/postgres/pg.sh
            "PATH",
        ]
    )
    assert warnings == [
        "CHAINON_EMAIL_STARTTLS is ignored: it was renamed CHAINON_EMAIL_RELAY_STARTTLS",
        "CHAINON_LOG_LEVLE is ignored: did you mean CHAINON_LOG_LEVEL?",
        "CHAINON_WHATEVER is ignored: no setting has this name",
    ]


def test_the_dot_env_file_is_checked_too(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CHAINON_EMAIL_USERNAME=chainon\nCHAINON_PORT=8001\n", encoding="utf-8")
    assert warn_unknown_variables({"CHAINON_HOST": "0.0.0.0"}, env_file) == [
        "CHAINON_EMAIL_USERNAME is ignored: it was renamed CHAINON_EMAIL_RELAY_USERNAME"
    ]


def test_a_worker_warns_at_start_about_a_variable_no_setting_reads(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CHAINON_DATA_DIR": str(tmp_path),
        "CHAINON_LOG_JSON": "true",
        "CHAINON_EMAIL_MAX_BYTES": "2048",
        "CHAINON_SANDBOX_OUTCOM": "fail",
        # run from elsewhere (no .env there), on this checkout's code
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from chainon.cli import main; main()", "worker", "relay"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while '"worker.started"' not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    lines = [line for line in log.read_text().splitlines() if "settings.unknown_variable" in line]
    assert len(lines) == 2, log.read_text()
    assert (
        "CHAINON_EMAIL_MAX_BYTES is ignored: it was renamed CHAINON_EMAIL_INBOUND_MAX_BYTES"
        in lines[0]
    )
    assert "CHAINON_SANDBOX_OUTCOM is ignored: did you mean CHAINON_SANDBOX_OUTCOME?" in lines[1]
