"""The ``chainon`` command, run as an operator would, on a fresh embedded store."""

from __future__ import annotations

import re
import time
from importlib.metadata import version as package_version
from pathlib import Path

import pytest

from tests.e2e.conftest import Run, api_key, refused

UNKNOWN = "0b7c2f7e-1c9a-4d0e-9a53-2f4d6e8a1b3c"


def test_version_is_the_package_version(chainon: Run) -> None:
    result = chainon("version")
    assert result.exit_code == 0
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", result.stdout.strip())


def test_dash_dash_version_prints_what_chainon_version_prints(chainon: Run) -> None:
    flag, command = chainon("--version"), chainon("version")
    assert flag.exit_code == 0, flag.output
    assert flag.stdout.strip() == command.stdout.strip() == package_version("chainon")


def test_the_changelog_names_the_package_version() -> None:
    """Keep a Changelog: an Unreleased section on top, then the released versions."""
    text = (Path(__file__).parents[2] / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", text, flags=re.MULTILINE)
    assert versions[:2] == ["Unreleased", package_version("chainon")], versions


def test_demo_tells_the_story_in_a_throwaway_directory(chainon: Run, data_dir: Path) -> None:
    result = chainon("demo")
    assert result.exit_code == 0, result.output
    assert "conversation opened" in result.stdout
    assert "queued" in result.stdout
    assert "delivered" in result.stdout
    assert "resolved by camille" in result.stdout
    assert "Merci !" in result.stdout
    assert "The shop backend received, signature verified:" in result.stdout
    for status in ("queued", "sent", "delivered"):
        assert re.search(
            rf"✓ message\.status {status} +webhook-id msg_[0-9a-f]{{32}}", result.stdout
        )
    assert result.stdout.count("✓ message.received ") == 2
    assert "✗" not in result.stdout  # every signature verified
    assert not data_dir.exists()  # neither CHAINON_DATA_DIR nor ./var was touched


def test_demo_shows_an_rcs_message_revoked_and_sent_by_sms_without_waiting(
    chainon: Run,
) -> None:
    started = time.monotonic()
    result = chainon("demo")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30  # the shortest deadline is 60 s: not waited for
    out = result.stdout
    scene = out[out.index("RCS first, SMS when RCS does not arrive in time") :]
    assert "[Aujourd'hui]  [Demain]" in scene  # the chips, on RCS
    assert "falls back to SMS unless delivered by" in scene
    assert re.search(r"✓ RCS queued \S+ → sent \+[0-9.]+ s → revoked", scene), scene
    assert "Répondez 1 pour Aujourd'hui, 2 pour Demain" in scene
    assert "read as the second suggestion: “Demain” (postback delivery_tomorrow)" in scene
    timeline = scene[scene.index("Maison Lumière · +33698765432") :]
    lines = [line.strip() for line in timeline.splitlines()]
    assert any(line.endswith("→ RCS to +33698765432") for line in lines)
    assert any(line.endswith("→ SMS to +33698765432") for line in lines)
    assert any("deadline passed undelivered: RCS revocation asked" in line for line in lines)
    assert any("fallback to SMS (not delivered in time)" in line for line in lines)
    assert "↳ fallback of the RCS message of" in timeline
    assert "↳ picks “Demain” (postback delivery_tomorrow)" in timeline
    # one RCS message, one SMS, one answer: nothing sent twice
    assert sum(line.endswith("→ SMS to +33698765432") for line in lines) == 1


def test_demo_shows_a_stop_and_a_lawful_campaign(chainon: Run) -> None:
    result = chainon("demo")
    assert result.exit_code == 0, result.output
    out = result.stdout
    stop = out[out.index("A consumer says STOP") : out.index("A small campaign")]
    assert "read as the keyword STOP: marketing revoked on every channel" in stop
    assert stop.count("one confirmation, delivered: “Maison Lumière : votre désinscription") == 1
    assert "⊘ blocked: opted_out" in stop
    assert re.search(r"a reply to \+33612345678's own message still goes: .* delivered", stop)
    assert "the ledger holds 2 changes" in stop  # the web-form opt-in, then the STOP

    scene = out[out.index("A small campaign") :]
    assert "The shop uploads its list: 10 recipients" in scene
    assert "line 12 left out: to: '06 12 34' is not a valid phone number" in scene
    assert "block 2 (1 no_marketing_consent, 1 opted_out)" in scene  # the dry run
    assert re.search(r"Bougies -20 % .*10/10 finished", scene), scene
    settled = re.search(
        r"every recipient accounted for: (\d+) delivered, (\d+) deferred, (\d+) blocked", scene
    )
    assert settled is not None, scene
    delivered, deferred, blocked = map(int, settled.groups())
    assert (delivered + deferred, blocked) == (8, 2)
    # Deferred only in French quiet hours, and then the scene says until when.
    assert (deferred > 0) == ("quiet hours hold marketing" in scene)


def test_demo_shows_a_bot_collecting_a_delivery_slot_and_handing_off(chainon: Run) -> None:
    result = chainon("demo")
    assert result.exit_code == 0, result.output
    out = result.stdout
    scene = out[out.index("A bot collects a delivery slot") :]
    assert "flow delivery-details v1 published" in scene
    assert "Répondez 1 pour Matin 8h-12h, 2 pour Après-midi 13h-18h" in scene  # numbered
    assert "Un conseiller confirme votre livraison" in scene
    assert "in team delivery's queue" in scene
    assert "Créneau : afternoon ; adresse confirmée : yes" in scene
    assert "flow delivery-details v1 started (keyword)" in scene  # the timeline
    assert "handed off to delivery (normal, step)" in scene


def test_demo_refuses_a_directory_in_use(chainon: Run, tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "chainon.sqlite3").write_text("")
    line = refused(chainon("demo", "--data-dir", str(tmp_path / "used")))
    assert line.startswith("error: the demo needs an empty directory")


def test_a_created_brand_is_listed(chainon: Run, acme: str) -> None:
    result = chainon("brands", "list")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["acme"])
    assert "Acme Boutique" in row
    assert "+33939000001" in row  # the national spelling, normalised
    assert row.rstrip(" │").endswith("1")  # one active key


def test_creating_an_existing_slug_names_the_conflict(chainon: Run, acme: str) -> None:
    line = refused(chainon("brands", "create", "acme", "--name", "Other"))
    assert line == "error: slug: a brand 'acme' exists already"


@pytest.mark.usefixtures("acme")
def test_a_malformed_number_is_refused_in_one_line_naming_to(chainon: Run) -> None:
    line = refused(chainon("send", "--brand", "acme", "--to", "+33 12", "--body", "Bonjour"))
    assert line == "error: to: '+33 12' is not a valid phone number"


@pytest.mark.usefixtures("acme")
def test_an_unknown_brand_is_refused(chainon: Run) -> None:
    line = refused(chainon("send", "--brand", "nope", "--to", "+33612345678", "--body", "Hi"))
    assert line.startswith("error: brand: no brand 'nope'")


@pytest.mark.usefixtures("acme")
def test_a_sent_message_is_queued_listed_and_shown(chainon: Run) -> None:
    sent = chainon("send", "--brand", "acme", "--to", "06 12 34 56 78", "--body", "Bonjour")
    assert sent.exit_code == 0, sent.output
    assert "chainon serve` dispatches it" in sent.stdout
    conversation_id = re.search(r"conversation ([0-9a-f-]{36})", sent.stdout)
    assert conversation_id, sent.stdout

    listed = chainon("conversations", "list", "--brand", "acme", "--status", "open")
    assert listed.exit_code == 0, listed.output
    assert conversation_id.group(1) in listed.stdout
    assert "+33612345678" in listed.stdout
    resolved = chainon("conversations", "list", "--brand", "acme", "--status", "resolved")
    assert conversation_id.group(1) not in resolved.stdout

    shown = chainon("conversations", "show", conversation_id.group(1), "--brand", "acme")
    assert shown.exit_code == 0, shown.output
    assert "→ SMS to +33612345678" in shown.stdout
    assert "“Bonjour”" in shown.stdout
    assert "queued" in shown.stdout
    assert "delivered" not in shown.stdout  # nothing dispatches without a server


@pytest.mark.usefixtures("acme")
def test_showing_an_unknown_conversation_is_refused(chainon: Run) -> None:
    line = refused(chainon("conversations", "show", UNKNOWN, "--brand", "acme"))
    assert line == f"error: no conversation {UNKNOWN}"


def test_a_key_can_be_issued_then_revoked(chainon: Run, acme: str) -> None:
    issued = chainon("brands", "keys", "acme", "--issue", "ci")
    assert issued.exit_code == 0, issued.output
    key_id = api_key(issued.stdout).split("_")[1]
    assert re.search(rf"{key_id}\s+│ ci\s+│ no", issued.stdout), issued.stdout

    revoked = chainon("brands", "keys", "acme", "--revoke", key_id)
    assert revoked.exit_code == 0, revoked.output
    assert re.search(rf"{key_id}\s+│ ci\s+│ yes", revoked.stdout), revoked.stdout
    first = api_key(acme).split("_")[1]
    assert re.search(rf"{first}\s+│ first\s+│ no", revoked.stdout), revoked.stdout

    line = refused(chainon("brands", "keys", "acme", "--revoke", key_id))
    assert line == f"error: key {key_id} is already revoked"


def test_bench_is_hidden_and_says_where_the_benchmark_went(chainon: Run) -> None:
    moved = chainon("bench", "--quick", "--scenario", "send-smpp")
    assert moved.exit_code == 2, moved.output
    assert moved.stdout == ""
    assert "`make bench` or `python -m bench`" in moved.stderr
    assert len(moved.stderr.splitlines()) == 1

    listed = chainon("--help")
    assert listed.exit_code == 0, listed.output
    assert "bench" not in listed.stdout
