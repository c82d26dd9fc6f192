"""``chainon consent export``: every consent change of a brand with its evidence, as CSV or
JSON, for one contact or all of them."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner, Result

from chainon.cli import app
from chainon.cli import brands as brands_cli
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.consent import EvidenceSource, Purpose
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import BRAND_SMS, make_settings, register
from tests.e2e.conftest import Run


def contact_with_history(core: Core, brand_id: UUID, sender: str) -> UUID:
    received = core.handle(
        cmd.ReceiveMessage(
            provider="sandbox",
            provider_message_id=f"in-{sender}",
            channel=Channel.SMS,
            sender=sender,
            recipient=BRAND_SMS,
            body="Bonjour",
        )
    )
    contact = received.contact_id
    assert contact is not None
    core.handle(
        cmd.GrantConsent(
            brand_id=brand_id,
            contact_id=contact,
            purpose=Purpose.MARKETING,
            source=EvidenceSource.WEB_FORM,
            text="checkbox 'offers' on /signup",
            actor="signup-form",
        )
    )
    core.handle(
        cmd.RevokeConsent(
            brand_id=brand_id,
            contact_id=contact,
            purpose=Purpose.MARKETING,
            channel=Channel.EMAIL,
            text='{"action": "revoke"}',
            actor="api_key:0123456789ab",
        )
    )
    return contact


def export(data_dir: Path, *args: str) -> Result:
    env = {"CHAINON_DATA_DIR": str(data_dir), "CHAINON_STORE": "sqlite", "CHAINON_LOG_JSON": "0"}
    return CliRunner().invoke(
        app, ["consent", "export", "--brand", "maison-lumiere", *args], env=env
    )


def two_contacts(data_dir: Path) -> tuple[UUID, UUID]:
    runtime = Runtime(make_settings(StoreKind.SQLITE, data_dir))
    try:
        brand = register(runtime)
        first = contact_with_history(runtime.core, brand.id, "+33612345678")
        second = contact_with_history(runtime.core, brand.id, "+33612345679")
        return first, second
    finally:
        runtime.close()


def test_the_export_holds_every_change_with_its_evidence(tmp_path: Path) -> None:
    first, second = two_contacts(tmp_path)
    out = tmp_path / "consent.json"
    result = export(tmp_path, "-o", str(out))
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    assert [(r["contact_id"], r["change"]) for r in records] == [
        (str(first), "granted"),
        (str(first), "revoked"),
        (str(second), "granted"),
        (str(second), "revoked"),
    ]
    granted, revoked = records[:2]
    assert granted["source"] == "web_form"
    assert granted["text"] == "checkbox 'offers' on /signup"
    assert granted["actor"] == "signup-form"
    assert (granted["purpose"], granted["scope"]) == ("marketing", "all_channels")
    assert (revoked["source"], revoked["scope"], revoked["channel"]) == ("api", "email", "email")
    assert revoked["actor"] == "api_key:0123456789ab"
    assert granted["addresses"] == "+33612345678"
    assert all(r["at"] for r in records)


def test_one_contact_as_csv(tmp_path: Path) -> None:
    _, second = two_contacts(tmp_path)
    out = tmp_path / "one.csv"
    result = export(tmp_path, "--contact", str(second), "-o", str(out))
    assert result.exit_code == 0, result.output
    with out.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["contact_id"], r["change"], r["source"]) for r in rows] == [
        (str(second), "granted", "web_form"),
        (str(second), "revoked", "api"),
    ]


def test_an_export_to_an_unknown_format_is_refused(tmp_path: Path) -> None:
    two_contacts(tmp_path)
    result = export(tmp_path, "-o", str(tmp_path / "out.xlsx"))
    assert result.exit_code == 1
    assert "output: must end in .csv or .json" in result.output


def test_chainon_send_prints_a_blocked_send_and_its_reason(tmp_path: Path) -> None:
    two_contacts(tmp_path)
    env = {"CHAINON_DATA_DIR": str(tmp_path), "CHAINON_STORE": "sqlite", "CHAINON_LOG_JSON": "0"}
    send = ["send", "--brand", "maison-lumiere", "--to", "+33612345670"]
    promo = ["--body", "Promo STOP au 0939000001", "--purpose", "marketing"]
    result = CliRunner().invoke(app, [*send, *promo], env=env)
    assert result.exit_code == 0, result.output
    assert "blocked: no_marketing_consent" in result.output
    queued = CliRunner().invoke(app, [*send, "--body", "Votre colis"], env=env)
    assert "queued" in queued.output


def test_the_review_lists_the_uncertain_opt_outs_and_their_outcome(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        register(runtime)
        for n, (sender, words) in enumerate(
            [
                ("+33612345681", "Stop, who is this?"),
                ("+33612345682", "Stop, who is this?"),
                ("+33612345682", "START"),
                ("+33612345683", "STOP"),
            ]
        ):
            runtime.core.handle(
                cmd.ReceiveMessage(
                    provider="sandbox",
                    provider_message_id=f"m{n}",
                    channel=Channel.SMS,
                    sender=sender,
                    recipient=BRAND_SMS,
                    body=words,
                )
            )
    finally:
        runtime.close()
    env = {"CHAINON_DATA_DIR": str(tmp_path), "CHAINON_STORE": "sqlite", "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["consent", "review", "--brand", "maison-lumiere"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 uncertain opt-out(s)" in result.output
    lines = result.output.splitlines()
    first = next(line for line in lines if "+33612345681" in line)
    second = next(line for line in lines if "+33612345682" in line)
    assert "loose.stop" in first
    assert "unconfirmed" in first
    assert "restored (keyword" in second
    assert "+33612345683" not in result.output  # a clear STOP is no case to review


def test_an_opt_out_in_plain_words_is_exported_with_the_rule_that_read_it(tmp_path: Path) -> None:
    """Issue 24: "revoked by phrase 'Stop texting me' on SMS at …, rule en.phrase.…"."""
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        brand = register(runtime)
        contact = contact_with_history(runtime.core, brand.id, "+33612345677")
        runtime.core.handle(
            cmd.ReceiveMessage(
                provider="sandbox",
                provider_message_id="stop-words",
                channel=Channel.SMS,
                sender="+33612345677",
                recipient=BRAND_SMS,
                body="Please stop texting me",
            )
        )
    finally:
        runtime.close()
    out = tmp_path / "words.json"
    result = export(tmp_path, "--contact", str(contact), "-o", str(out))
    assert result.exit_code == 0, result.output
    last = json.loads(out.read_text())[-1]
    assert (last["change"], last["source"], last["channel"]) == ("revoked", "phrase", "sms")
    assert last["rule"] == "en.phrase.stop_texting"
    assert last["text"] == "Please stop texting me"


def consent_cli(data_dir: Path, *args: str) -> Result:
    env = {"CHAINON_DATA_DIR": str(data_dir), "CHAINON_STORE": "sqlite", "CHAINON_LOG_JSON": "0"}
    return CliRunner().invoke(app, ["consent", *args, "--brand", "maison-lumiere"], env=env)


def test_settings_are_set_from_a_yaml_file_and_shown(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(StoreKind.SQLITE, tmp_path))
    try:
        register(runtime)
    finally:
        runtime.close()
    document = tmp_path / "settings.yaml"
    document.write_text(
        "keywords:\n  fr:\n    opt_out:\n      add: [BASTA]\n"
        "quiet_hours:\n  FR:\n    opens: '07:30'\n    override:\n"
        "      reason: the morning bread offer\n",
        encoding="utf-8",
    )
    result = consent_cli(tmp_path, "settings", "--file", str(document))
    assert result.exit_code == 0, result.output
    shown = consent_cli(tmp_path, "settings")
    assert shown.exit_code == 0, shown.output
    settings = json.loads(shown.stdout)
    assert "basta" in settings["keywords"]["fr"]["opt_out"]
    override = settings["quiet_hours"]["FR"]["override"]
    assert override["reason"] == "the morning bread offer"
    assert override["by"].startswith("cli:")
    wider = tmp_path / "wider.json"
    wider.write_text('{"quiet_hours": {"US": {"closes": "22:00"}}}', encoding="utf-8")
    refused = consent_cli(tmp_path, "settings", "--file", str(wider))
    assert refused.exit_code == 1
    assert "quiet_hours.US" in refused.output


def test_an_import_is_recorded_once_reported_by_line_and_exported(
    chainon: Run, acme: str, tmp_path: Path
) -> None:
    file = tmp_path / "optins-2026.csv"
    file.write_text(
        "address,purpose,status,text\n"
        "+33612345678,marketing,granted,Oui aux offres\n"
        "+33612345679,marketing,maybe,\n"
        "camille@example.org,service,revoked,\n",
        encoding="utf-8",
    )
    first = chainon("consent", "import", "--brand", "acme", str(file))
    assert first.exit_code == 0, first.output
    assert "1 granted, 1 revoked, 0 unchanged, 1 row(s) left out" in first.stdout
    assert "line 3: status: must be granted or revoked" in first.stdout
    again = chainon("consent", "import", "--brand", "acme", str(file))
    assert "0 granted, 0 revoked, 2 unchanged, 1 row(s) left out" in again.stdout

    out = tmp_path / "consent.csv"
    exported = chainon("consent", "export", "--brand", "acme", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    with out.open(encoding="utf-8") as file_:
        records = list(csv.DictReader(file_))
    assert [(r["address"], r["change"], r["source"]) for r in records] == [
        ("+33612345678", "granted", "import"),
        ("camille@example.org", "revoked", "import"),
    ]
    assert (
        records[0]["text"]
        == "optins-2026.csv, line 2: +33612345678,marketing,granted,Oui aux offres"
    )
    assert records[0]["actor"].startswith("cli:")


def test_chainon_send_blocks_marketing_that_quiet_hours_would_hold_past_not_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_contacts(tmp_path)  # +33612345678 opted in to marketing
    real = brands_cli.runtime_of

    @contextmanager
    def on_saturday_night(settings: Settings) -> Iterator[Runtime]:
        with real(settings) as runtime:  # 21:00 in Paris: quiet until Monday 08:00
            runtime.core.clock = lambda: datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
            yield runtime

    monkeypatch.setattr(brands_cli, "runtime_of", on_saturday_night)
    env = {"CHAINON_DATA_DIR": str(tmp_path), "CHAINON_STORE": "sqlite", "CHAINON_LOG_JSON": "0"}
    send = ["send", "--brand", "maison-lumiere", "--to", "+33612345678", "--purpose", "marketing"]
    promo = [*send, "--body", "Promo STOP au 0939000001"]
    late = CliRunner().invoke(app, [*promo, "--not-after", "2026-12-06T12:00:00+01:00"], env=env)
    assert late.exit_code == 0, late.output
    assert "blocked: quiet_hours_past_deadline" in late.output
    held = CliRunner().invoke(app, [*promo, "--not-after", "2026-12-07T09:00+01:00"], env=env)
    assert "deferred until 2026-12-07T07:00+00:00" in held.output
    naive = CliRunner().invoke(app, [*promo, "--not-after", "2026-12-06T12:00:00"], env=env)
    assert naive.exit_code == 2
    assert "--not-after" in naive.output
