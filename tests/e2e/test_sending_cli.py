"""``chainon sending``: the limits document from a file, the prefixes the pumping guard
blocked, and an admin's lift from a terminal, recorded with who lifted it. A batch's own
sends count before the read model has seen them (a campaign's burst in one batch)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from chainon.cli import app
from chainon.domain import commands as cmd
from chainon.runtime import Runtime
from chainon.settings import StoreKind
from tests.conftest import make_settings, register


def chainon(data_dir: Path, *args: str) -> Result:
    env = {"CHAINON_DATA_DIR": str(data_dir), "CHAINON_STORE": "sqlite", "CHAINON_LOG_JSON": "0"}
    return CliRunner().invoke(app, ["sending", *args, "--brand", "maison-lumiere"], env=env)


def test_a_burst_in_one_batch_is_blocked_and_lifted_from_the_cli(tmp_path: Path) -> None:
    limits = tmp_path / "limits.yaml"
    limits.write_text("prefix_burst: 3\nprefix_burst_factor: 2\ninbound_per_minute: 5\n")
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        brand = register(runtime)
    finally:
        runtime.close()
    set_ = chainon(tmp_path, "limits", "--file", str(limits))
    assert set_.exit_code == 0, set_.output
    assert json.loads(set_.stdout)["limits"]["prefix_burst"] == 3

    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        sends = [
            (cmd.SendMessage(brand_id=brand.id, to=f"+336123450{i:02d}", body="Code 1234"), None)
            for i in range(5)
        ]
        outcomes = runtime.core.handle_many(sends)
    finally:
        runtime.close()
    answers = [(o.status, o.reason) for o in outcomes if isinstance(o, cmd.Outcome)]
    assert answers == [("queued", None)] * 3 + [("blocked", "destination_cap")] * 2

    shown = chainon(tmp_path, "blocks")
    assert shown.exit_code == 0, shown.output
    assert [b["prefix"] for b in json.loads(shown.stdout)["blocks"]] == ["+3361234"]
    lifted = chainon(tmp_path, "lift", "+3361234")
    assert lifted.exit_code == 0, lifted.output
    after = json.loads(chainon(tmp_path, "blocks").stdout)
    assert after["blocks"] == []
    assert after["lifted"][0]["by"].startswith("cli:")
    missing = chainon(tmp_path, "lift", "+3361234")
    assert missing.exit_code != 0
    assert "no blocked prefix" in missing.output
