"""The API in process: a registered brand, and an HTTP client holding its key; the
``chainon`` command on a fresh embedded store; a cookie-keeping client for the console."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from chainon.api.app import create_app
from chainon.cli import app
from chainon.runtime import Runtime
from tests.conftest import BrandWithKey, register


@pytest.fixture(scope="session", autouse=True)
def one_process() -> Iterator[None]:
    """Every `chainon serve` these tests start runs in one process (the children of the
    default mode double a start's cost on a busy machine); test_process_tree.py starts the
    default tree itself."""
    before = os.environ.get("CHAINON_EMBEDDED_PROCESSES")
    os.environ["CHAINON_EMBEDDED_PROCESSES"] = "1"
    yield
    if before is None:
        del os.environ["CHAINON_EMBEDDED_PROCESSES"]
    else:
        os.environ["CHAINON_EMBEDDED_PROCESSES"] = before


@pytest.fixture
def brand(sqlite_runtime: Runtime) -> BrandWithKey:
    return register(sqlite_runtime)


@pytest.fixture
async def api(sqlite_runtime: Runtime, brand: BrandWithKey) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=sqlite_runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://chainon.test",
        headers={"Authorization": f"Bearer {brand.key}"},
    ) as client:
        yield client


class Run:
    """``chainon ARGS`` through typer's runner, with this test's environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(app, list(args), env={**self.env, **(env or {})})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def chainon(data_dir: Path) -> Run:
    return Run(
        {
            "CHAINON_DATA_DIR": str(data_dir),
            "CHAINON_STORE": "sqlite",
            "CHAINON_LOG_JSON": "false",
            "COLUMNS": "160",  # tables keep ids on one line
        }
    )


@pytest.fixture
def acme(chainon: Run) -> str:
    """Registers the brand ``acme`` and returns its first API key."""
    result = chainon(
        "brands", "create", "acme", "--name", "Acme Boutique", "--sms", "09 39 00 00 01"
    )
    assert result.exit_code == 0, result.output
    return api_key(result.stdout)


def api_key(output: str) -> str:
    found = re.search(r"chn_[0-9a-f]{12}_\S+", output)
    assert found, output
    return found.group()


def refused(result: Result, code: int = 1) -> str:
    """The one error line of a refused command, checking that no traceback came out."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
async def browser(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, on https (the session cookie is Secure)."""
    app = create_app(runtime=sqlite_runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://chainon.test"
    ) as client:
        yield client
