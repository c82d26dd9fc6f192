"""The AsyncAPI document as the CLI writes it to a file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chainon.asyncapi import document
from chainon.cli import app

DOC = document()


def test_the_cli_exports_the_same_document(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.json"
    result = CliRunner().invoke(app, ["schemas", "export", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text()) == DOC
