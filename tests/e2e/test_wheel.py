"""The wheel, installed in a fresh virtual environment, runs on its own.

Everything else runs from the source tree, where ``tests``, ``bench`` and ``devtools`` sit
beside the packages and a missing file in the wheel would go unnoticed. Here the wheel is
built, installed with its dependencies from the index (uv's cache makes it quick) and its
``chainon`` command run from an empty directory, as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.conftest import ROOT


def uv() -> list[str]:
    """uv as the Makefile runs it when it is not on PATH."""
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def run(
    command: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh venv holding only the wheel and its dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    env = {
        **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        "UV_PYTHON_DOWNLOADS": "never",
    }
    built = run(
        [*uv(), "build", "--wheel", "-o", str(work / "dist")], cwd=ROOT, env=env, timeout=600
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (work / "dist").glob("chainon-*.whl")

    venv = work / "venv"
    created = run(
        [*uv(), "venv", "--python", sys.executable, str(venv)], cwd=work, env=env, timeout=120
    )
    assert created.returncode == 0, created.stdout + created.stderr
    python = venv / "bin" / "python"
    done = run(
        [*uv(), "pip", "install", "--python", str(python), str(wheel)],
        cwd=work,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


@pytest.fixture
def user_env() -> dict[str, str]:
    """A user's environment: none of the tests' Chainon settings, a wide terminal."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CHAINON_") and k != "VIRTUAL_ENV"
    }
    return {**env, "COLUMNS": "160"}


def test_the_installed_command_lists_its_commands(
    installed: Path, tmp_path: Path, user_env: dict[str, str]
) -> None:
    helped = run([str(installed / "chainon"), "--help"], cwd=tmp_path, env=user_env, timeout=60)
    assert helped.returncode == 0, helped.stdout + helped.stderr
    for command in ("serve", "worker", "send", "demo", "brands", "conversations", "projections"):
        assert command in helped.stdout
    assert "bench" not in helped.stdout


def test_the_demo_tells_its_story_from_an_empty_directory(
    installed: Path, tmp_path: Path, user_env: dict[str, str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    told = run([str(installed / "chainon"), "demo"], cwd=empty, env=user_env, timeout=600)
    assert told.returncode == 0, told.stdout + told.stderr
    assert "Traceback" not in told.stderr
    assert "conversation #1 opened" in told.stdout
    assert "fallback to SMS (not delivered in time)" in told.stdout
    assert "Every line above is a stored event" in told.stdout
    assert list(empty.iterdir()) == []  # the demo keeps its store in a throw-away directory


def test_every_shipped_module_imports_with_the_declared_dependencies(
    installed: Path, tmp_path: Path, user_env: dict[str, str]
) -> None:
    """Modules off the demo's path too: a dependency missing from pyproject.toml shows here."""
    script = (
        "import importlib, pkgutil\n"
        "for package in ('chainon',):\n"
        "    path = importlib.import_module(package).__path__\n"
        "    for module in pkgutil.walk_packages(path, package + '.'):\n"
        "        importlib.import_module(module.name)\n"
        "        print(module.name)\n"
    )
    imported = run(
        [str(installed / "python"), "-c", script], cwd=tmp_path, env=user_env, timeout=300
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    modules = imported.stdout.split()
    assert "chainon.adapters.channels.smpp.provider" in modules
    assert "chainon.domain.conversation" in modules
    assert "chainon.projections.runner" in modules
    assert "chainon.cli" in modules
    assert len(modules) > 50


def test_the_wheel_ships_neither_the_tests_nor_the_benchmark(
    installed: Path, tmp_path: Path, user_env: dict[str, str]
) -> None:
    script = (
        "import importlib.util\n"
        "for name in ('tests', 'bench', 'devtools', 'domain', 'adapters', 'projections'):\n"
        "    print(name, importlib.util.find_spec(name) is not None)\n"
    )
    found = run([str(installed / "python"), "-c", script], cwd=tmp_path, env=user_env, timeout=60)
    assert found.returncode == 0, found.stdout + found.stderr
    # nor the layers under their own top-level names: they are chainon.domain, …
    assert found.stdout.split() == [
        *("tests", "False", "bench", "False", "devtools", "False"),
        *("domain", "False", "adapters", "False", "projections", "False"),
    ]

    moved = run([str(installed / "chainon"), "bench"], cwd=tmp_path, env=user_env, timeout=60)
    assert moved.returncode == 2
    assert "python -m bench" in moved.stderr


def test_the_wheel_ships_the_consoles_templates_and_vendored_scripts(
    installed: Path, tmp_path: Path, user_env: dict[str, str]
) -> None:
    script = (
        "from pathlib import Path\n"
        "import chainon.console\n"
        "here = Path(chainon.console.__file__).parent\n"
        "for name in ('templates/queue.html', 'static/console.js', 'static/vendor/htmx.min.js',\n"
        "             'static/vendor/htmx.LICENSE', 'static/vendor/htmx-ext-sse.min.js'):\n"
        "    print(name, (here / name).is_file())\n"
    )
    found = run([str(installed / "python"), "-c", script], cwd=tmp_path, env=user_env, timeout=60)
    assert found.returncode == 0, found.stdout + found.stderr
    assert found.stdout.split()[1::2] == ["True"] * 5, found.stdout
