"""The domain stays pure: importing it pulls in no I/O, framework or outer layer."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import adapters
import domain
import projections

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
        f"for m in {modules!r}: importlib.import_module('domain.' + m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", script], text=True))
    roots = {name.split(".")[0] for name in loaded}
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


def imported_roots(package: Path) -> dict[str, set[str]]:
    """Each module's imported top-level packages, function-level imports included."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        roots = found.setdefault(str(path.relative_to(package.parent)), set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        (Path(adapters.__file__).parent, {"chainon", "projections", "bench", "tests"}),
        (Path(projections.__file__).parent, {"chainon", "adapters", "bench", "tests"}),
    ],
    ids=["adapters", "projections"],
)
def test_adapters_and_projections_import_neither_each_other_nor_the_core(
    package: Path, forbidden: set[str]
) -> None:
    """What they need of the core (a store's log, a bus consumer) is passed in."""
    offenders = {
        module: sorted(roots & forbidden)
        for module, roots in imported_roots(package).items()
        if roots & forbidden
    }
    assert offenders == {}
