"""``chainon routing show|set``: the brand's routing document from a file, recorded with
the user who set it; a bad rule is refused naming its field."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from chainon.cli import app
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import make_settings, register


def chainon(data_dir: Path, *args: str) -> Result:
    env = {"CHAINON_DATA_DIR": str(data_dir), "CHAINON_STORE": "sqlite", "CHAINON_LOG_JSON": "0"}
    return CliRunner().invoke(app, ["routing", *args, "--brand", "maison-lumiere"], env=env)


def test_set_then_show_and_a_bad_rule_refused(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        register(runtime)
    finally:
        runtime.close()
    rules = tmp_path / "routing.yaml"
    rules.write_text(
        "rules:\n"
        "  - when: {language: [en]}\n"
        "    team: english\n"
        "default: {team: desk, priority: high}\n"
    )
    set_ = chainon(tmp_path, "set", "--file", str(rules))
    assert set_.exit_code == 0, set_.output
    assert json.loads(set_.stdout)["routing"]["rules"][0]["team"] == "english"
    again = chainon(tmp_path, "set", "--file", str(rules))
    assert "routing unchanged" in again.stderr

    shown = chainon(tmp_path, "show")
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.stdout)
    assert found["routing"]["default"] == {"team": "desk", "priority": "high"}
    (change,) = found["history"]
    assert change["by"].startswith("cli:")

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - team: english\n  - team: Not A Team\n")
    refused = chainon(tmp_path, "set", "--file", str(bad))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: rules.1.team: ")
