"""An upgrade from the previous release: a store 0.1.0 wrote (committed under
tests/fixtures/) is brought forward, read, served and verified; a store a newer Chainon
wrote is refused in one line, by ``chainon migrate`` and at start."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from chainon.store_schema import SCHEMA_VERSION, TABLE
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "store-0.1.0" / "chainon.sqlite3"


def chainon(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chainon.cli", *args],
        env={**os.environ, "CHAINON_DATA_DIR": str(data_dir), "CHAINON_DEMO_BRAND": "false"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def layout(data_dir: Path) -> int | None:
    with sqlite3.connect(data_dir / "chainon.sqlite3") as db:
        try:
            row = db.execute(f"SELECT MAX(version) FROM {TABLE}").fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else row[0]


def test_a_store_written_by_0_1_0_is_migrated_read_and_verified(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURE, data / "chainon.sqlite3")  # never the committed file itself
    assert layout(data) is None  # 0.1.0 had no number

    migrated = chainon(data, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"store layout 0 → {SCHEMA_VERSION}" in migrated.stdout
    assert layout(data) == SCHEMA_VERSION
    again = chainon(data, "migrate")
    assert "nothing to do" in again.stdout

    brands = chainon(data, "brands", "list")
    assert brands.returncode == 0, brands.stderr
    assert "maison-lumiere" in brands.stdout  # the demo story 0.1.0 told
    listed = chainon(data, "conversations", "list", "--brand", "maison-lumiere")
    assert listed.returncode == 0, listed.stderr
    assert "+33612345678" in listed.stdout
    rebuilt = chainon(data, "projections", "rebuild", "all")  # read models from 0.1.0's events
    assert rebuilt.returncode == 0, rebuilt.stderr
    verified = chainon(data, "projections", "verify", "all")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_store_from_a_newer_chainon_is_refused_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURE, data / "chainon.sqlite3")
    with sqlite3.connect(data / "chainon.sqlite3") as db:
        db.execute(f"CREATE TABLE {TABLE} (version INTEGER NOT NULL)")
        db.execute(f"INSERT INTO {TABLE} VALUES ({SCHEMA_VERSION + 1})")
    for command in (["migrate"], ["brands", "list"]):
        refused = chainon(data, *command)
        assert refused.returncode == 1, refused.stdout
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1, refused.stderr
        assert lines[0].startswith("error: CHAINON_DATA_DIR: this store was written by a newer")
        assert f"reads up to {SCHEMA_VERSION}" in lines[0]
    assert layout(data) == SCHEMA_VERSION + 1  # left as it was
