"""Logs mask phone numbers and addresses and hide message texts, on Chainon's lines and the
libraries', unless the operator switched personal data on."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from chainon.log_redaction import mask, redact_personal_data
from chainon.observability import configure_logging


def test_an_e164_number_keeps_its_country_and_range_only() -> None:
    assert mask("to +33612345678 failed") == "to +3361234**** failed"
    assert mask("+12125550123") == "+1212555****"


def test_national_forms_and_emails_are_masked() -> None:
    assert mask("from 06 12 34 56 78") == "from 06 12 34 ** **"
    assert mask("call (212) 555-0123") == "call (212) 555-****"
    assert mask("reply to camille.dupont@example.org") == "reply to c***@example.org"


def test_ids_times_and_counts_are_left_alone() -> None:
    line = "2026-12-03T03:06:26Z message 0b7c2f7e-1c9a-4d0e-9a53-2f4d6e8a1b3c took 1234567 us"
    assert mask(line) == line


@given(st.from_regex(r"\+[1-9]\d{7,14}", fullmatch=True), st.text(max_size=20))
def test_no_e164_number_survives_whole(number: str, around: str) -> None:
    masked = mask(f"{around} {number} {around}")
    assert number not in masked
    assert number[:-4] in masked  # what is kept still tells the lines apart


def test_message_texts_are_replaced_by_their_length() -> None:
    event = redact_personal_data(None, "info", {"event": "x", "body": "Bonjour Camille"})
    assert event == {"event": "x", "body": "<15 characters>"}


def lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_both_log_chains_mask_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    structlog.get_logger().info("sent", to="+33612345678", body="Votre code est 4821")
    logging.getLogger("aiosmtpd").warning("refused %s", "marie@example.org")
    try:
        raise ValueError("to: '+33698765432' is not allowed")
    except ValueError:
        structlog.get_logger().exception("failed")
    err = capsys.readouterr().err
    for secret in ("+33612345678", "Votre code", "marie@example.org", "+33698765432"):
        assert secret not in err
    found = lines(err)
    assert found[0]["to"] == "+3361234****"
    assert found[0]["body"] == "<19 characters>"
    assert found[1]["event"] == "refused m***@example.org"
    assert "+3369876****" in str(found[2]["exception"])


def test_the_switch_lets_personal_data_through(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True, personal_data=True)
    try:
        structlog.get_logger().info("sent", to="+33612345678", body="Votre code est 4821")
    finally:
        configure_logging("INFO", json=True)
    err = capsys.readouterr().err
    assert "+33612345678" in err
    assert "Votre code est 4821" in err


@given(st.text(alphabet="0123456789 +-.()@abc/_\u0663", max_size=40))
def test_the_quick_look_changes_no_line(text: str) -> None:
    """A text without two digits in a row nor an @ is skipped: it could hold nothing masked."""
    from chainon.log_redaction import _EMAIL, _PHONE, mask_phone

    assert mask(text) == _EMAIL.sub(r"\1***@\2", _PHONE.sub(mask_phone, text))
