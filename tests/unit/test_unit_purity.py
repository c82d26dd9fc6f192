"""``tests/unit`` stays pure: no files, no SQLite, no sockets, no servers, no runtime.

A source scan of every unit test module: what needs a file, a database or a peer belongs
in ``tests/integration``. eventsourcing's in-memory (POPO) store is fine here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent

# Modules whose import means I/O: databases, sockets, servers, peers, temporary files.
FORBIDDEN_MODULES = (
    "sqlite3",
    "socket",
    "tempfile",
    "psycopg",
    "psycopg_pool",
    "aiosqlite",
    "aiokafka",
    "aiosmtplib",
    "aiosmtpd",
    "uvicorn",
    "eventsourcing.sqlite",
    "eventsourcing.postgres",
    "chainon.projections.sqlite",
    "chainon.projections.postgres",
    "chainon.adapters.bus.embedded",
    "chainon.adapters.bus.kafka",
    "chainon.runtime",
    "devtools.smsc_simulator",
    "devtools.kafka_broker",
    "tests.rbm",
    "tests.serving",
)
# Names whose use means I/O: pytest's file fixtures, the runtime, file-backed stores.
FORBIDDEN_NAMES = frozenset(
    {
        "tmp_path",
        "tmp_path_factory",
        "tmpdir",
        "tmpdir_factory",
        "Runtime",
        "SQLiteReadModels",
        "PostgresReadModels",
        "PartStore",
        "SentLedger",
        "LinkStateDb",
        "RevocationLedger",
        "EmbeddedBus",
        "KafkaBus",
    }
)
# Calls that write to or create files.
FORBIDDEN_CALLS = frozenset({"write_text", "write_bytes", "mkdir", "touch", "unlink", "rmtree"})
# A persistence module named in an environment (``Core({"PERSISTENCE_MODULE": ...})``).
FORBIDDEN_TEXT = re.compile(r"eventsourcing\.(sqlite|postgres)|\.sqlite3?\b|SQLITE_DBNAME")


def impurities(source: str) -> list[str]:
    """What in this module's source needs a file, a database, a socket or a server."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for name in names:
                if any(name == m or name.startswith(f"{m}.") for m in FORBIDDEN_MODULES):
                    found.append(f"{line}: imports {name}")
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name in FORBIDDEN_NAMES:
                        found.append(f"{line}: imports {alias.name}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{line}: uses {node.id}")
        elif isinstance(node, ast.arg) and node.arg in FORBIDDEN_NAMES:
            found.append(f"{line}: takes the {node.arg} fixture")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                found.append(f"{line}: opens a file")
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_CALLS:
                found.append(f"{line}: calls {func.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and FORBIDDEN_TEXT.search(node.value)
        ):
            found.append(f"{line}: names a database: {node.value!r}")
    return found


def unit_modules() -> list[Path]:
    return sorted(p for p in UNIT.rglob("*.py") if p.name != Path(__file__).name)


@pytest.mark.parametrize("path", unit_modules(), ids=lambda p: str(p.relative_to(UNIT)))
def test_a_unit_test_module_touches_no_file_database_socket_or_server(path: Path) -> None:
    assert impurities(path.read_text()) == []


def test_the_scan_has_modules_to_look_at() -> None:
    assert len(unit_modules()) > 15


@pytest.mark.parametrize(
    "source",
    [
        "def test_x(tmp_path): pass",
        "import sqlite3",
        "from socket import socket",
        "from chainon.projections.sqlite import SQLiteReadModels",
        "from chainon.runtime import Runtime",
        "runtime = Runtime(settings)",
        'core = Core({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})',
        "with open('x') as f: pass",
        "path.write_text('x')",
        "from devtools.smsc_simulator import Smsc",
        "import psycopg",
    ],
)
def test_the_scan_finds_what_it_forbids(source: str) -> None:
    assert impurities(source) != []


def test_the_scan_lets_pure_code_through() -> None:
    pure = (
        "from eventsourcing.application import Application\n"
        "from chainon.domain.conversation import Conversation\n"
        "conversation = Conversation.open(a, b, c, 1, at=T0)\n"
        "app = Application()  # POPO, in memory\n"
        "text = source.read_text()\n"
    )
    assert impurities(pure) == []
