"""The domain stays pure: importing it pulls in no I/O, framework or outer layer."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import chainon.domain as domain

# The layers nest in the one distribution package (chainon.domain, chainon.adapters,
# chainon.projections) while their folders stay at the repository's top level.
NESTED = ("domain", "adapters", "projections")


def layer_of(module: str) -> str:
    """``chainon.domain.x`` → ``domain``; ``chainon.api`` → ``chainon``; ``httpx`` → ``httpx``."""
    parts = module.split(".")
    if parts[0] == "chainon" and len(parts) > 1 and parts[1] in NESTED:
        return parts[1]
    return parts[0]


FORBIDDEN = (
    "adapters",
    "projections",
    "chainon",
    "fastapi",
    "starlette",
    "aiokafka",
    "httpx",
    "psycopg",
    "sqlite3",
    "uvicorn",
    "structlog",
)


def test_importing_the_domain_imports_no_outer_layer_or_io_library() -> None:
    modules = sorted(p.stem for p in Path(domain.__file__).parent.glob("*.py"))
    script = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module('chainon.domain.' + m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", script], text=True))
    # the package that holds the layers is loaded, and must stay an empty shell
    roots = {layer_of(name) for name in loaded if name != "chainon"}
    assert len(modules) > 10
    assert roots.isdisjoint(FORBIDDEN), roots & set(FORBIDDEN)


def test_the_domain_reads_no_clock() -> None:
    """Time is passed in: no ``now()``, ``today()`` or ``time.time()`` in the domain."""
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in Path(domain.__file__).parent.glob("*.py")
        for line in path.read_text().splitlines()
        if any(call in line for call in (".now(", ".today(", "time.time(", "utcnow("))
    ]
    assert offenders == []


def test_the_shipped_packages_import_neither_the_tests_nor_the_benchmark() -> None:
    """The wheel holds only its packages: an import of ``tests``, ``bench`` or ``devtools``
    (even a late one inside a function) would fail in an installed Chainon."""
    root = Path(domain.__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    shipped = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    offenders = []
    assert shipped == ["chainon"]
    for package in ("chainon", *NESTED):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                offenders += [
                    f"{path.relative_to(root)}: {name}"
                    for name in names
                    if name.split(".")[0] in {"tests", "bench", "devtools"}
                ]
    assert "chainon" in shipped
    assert offenders == []


# What each production package may not import, read from the source (every import
# statement, at any depth, so a lazy import inside a function counts too).
OUTWARD: dict[str, set[str]] = {
    "domain": {"adapters", "projections", "chainon", "bench", "tests", "devtools"},
    "adapters": {"chainon", "projections", "bench", "tests", "devtools"},
    "projections": {"chainon", "adapters", "bench", "tests", "devtools"},
    "chainon": {"bench", "tests", "devtools"},
}
ROOT = Path(domain.__file__).resolve().parent.parent


def imported_roots(path: Path) -> set[str]:
    return roots_of(path.read_text())


def roots_of(source: str) -> set[str]:
    tree = ast.parse(source)
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(layer_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(layer_of(node.module))
    return roots


@pytest.mark.parametrize("package", sorted(OUTWARD))
def test_each_layer_imports_nothing_outward(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & OUTWARD[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_scan_sees_a_lazy_import() -> None:
    """The guard itself: an import inside a function is found (the old bench command hid
    one there)."""
    source = "def run() -> None:\n    from bench.cli import main\n    import tests.conftest\n"
    assert roots_of(source) == {"bench", "tests"}


def test_the_scan_tells_the_nested_layers_from_the_application() -> None:
    source = (
        "from chainon.domain.x import y\nimport chainon.adapters.bus\nfrom chainon.api import z\n"
    )
    assert roots_of(source) == {"domain", "adapters", "chainon"}


BARE = re.compile(r"^\s*(from|import) (domain|adapters|projections)\b", re.MULTILINE)


def test_no_module_imports_a_layer_by_its_folder_name() -> None:
    """``domain.x`` imports in a checkout (the folder is there) but not from the wheel, and
    would load a second copy of every class beside ``chainon.domain.x``."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("chainon", *NESTED, "tests", "bench", "devtools")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "node_modules" not in path.parts and BARE.search(path.read_text())
    ]
    assert offenders == []
