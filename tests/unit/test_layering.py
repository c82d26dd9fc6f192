"""The domain stays pure: importing it pulls in no I/O, framework or outer layer."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import domain

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


def test_the_shipped_packages_import_neither_the_tests_nor_the_benchmark() -> None:
    """The wheel holds only its packages: an import of ``tests``, ``bench`` or ``devtools``
    (even a late one inside a function) would fail in an installed Chainon."""
    root = Path(domain.__file__).parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    shipped = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    offenders = []
    for package in shipped:
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
