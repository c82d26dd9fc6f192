"""The replay tooling on a real store: status, verify, rebuild, and time travel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainon.cli import app
from chainon.core import Core
from chainon.domain.conversation import Conversation
from chainon.event_store import store_env
from chainon.settings import Settings


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINON_LOG_JSON", "false")
    target = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(target)])
    assert result.exit_code == 0, result.output
    return target


def run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.output


def test_after_the_demo_every_projection_verifies_and_none_lags(demo_dir: Path) -> None:
    code, out = run(demo_dir, "projections", "verify", "all")
    assert code == 0, out
    for name in ("conversation_list", "crm_profile", "agent_queue", "analytics"):
        assert f"{name}: live and rebuilt agree" in out
    code, out = run(demo_dir, "projections", "status")
    assert code == 0, out
    names = {"conversation_list", "crm_profile", "agent_queue", "analytics"}
    rows = [line.split() for line in out.splitlines()]
    lags = {row[0]: row[-1] for row in rows if row and row[0] in names}
    assert set(lags) == names, out
    assert set(lags.values()) == {"0"}, out


def test_verify_reports_a_tampered_read_model_and_rebuild_mends_it(demo_dir: Path) -> None:
    import sqlite3

    with sqlite3.connect(demo_dir / "views.sqlite3") as db:
        db.execute("UPDATE crm_messages SET count = count + 5")
    code, out = run(demo_dir, "projections", "verify", "crm_profile")
    assert code == 1
    assert "crm_profile:" in out
    assert "differences" in out
    code, out = run(demo_dir, "projections", "rebuild", "crm_profile")
    assert code == 0, out
    assert "events/s" in out
    code, out = run(demo_dir, "projections", "verify", "crm_profile")
    assert code == 0, out


def test_an_unknown_projection_is_one_clear_line(demo_dir: Path) -> None:
    code, out = run(demo_dir, "projections", "verify", "nope")
    assert code == 1
    assert "no projection 'nope'" in out


def test_a_conversation_as_it_stood_before_it_was_resolved(demo_dir: Path) -> None:
    core = Core(store_env(Settings(data_dir=demo_dir)))
    try:
        (brand,) = [b for b in core.list_brands() if b.slug != "demo"]
        found = core.recorder.select_notifications(
            start=1, limit=1000, topics=[Conversation.Resolved.TOPIC]
        )
        conversation_id = found[0].originator_id
        events = list(core.events.get(conversation_id))
    finally:
        core.close()
    # The story goes on after the resolution (a STOP reopens it): the moment wanted is the
    # event just before the Resolved one.
    resolved = next(i for i, e in enumerate(events) if isinstance(e, Conversation.Resolved))
    before = events[resolved - 1].timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    code, now = run(demo_dir, "conversations", "show", str(conversation_id), "--brand", brand.slug)
    assert code == 0, now
    assert "resolved" in now
    code, then = run(
        demo_dir,
        "conversations",
        "show",
        str(conversation_id),
        "--brand",
        brand.slug,
        "--as-of",
        before,
    )
    assert code == 0, then
    assert "resolved" not in then.split("\n", 3)[-1] or then.count("resolved") < now.count(
        "resolved"
    )
    code, out = run(
        demo_dir,
        "conversations",
        "show",
        str(conversation_id),
        "--brand",
        brand.slug,
        "--as-of",
        datetime(2000, 1, 1).strftime("%Y-%m-%d"),
    )
    assert code == 1
    assert "did not exist yet" in out
