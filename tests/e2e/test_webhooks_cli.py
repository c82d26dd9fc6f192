"""``chainon webhooks add|list|rm|rotate --brand acme`` on an embedded store."""

from __future__ import annotations

import re

from cryptography.fernet import Fernet

from tests.e2e.conftest import Run, refused


def secret_of(output: str) -> str:
    found = re.search(r"whsec_\S+", output)
    assert found, output
    return found.group()


def test_add_list_rotate_and_remove_an_endpoint(chainon: Run, acme: str) -> None:
    added = chainon(
        "webhooks",
        "add",
        "https://hooks.example.com/chainon",
        "--brand",
        "acme",
        "--event",
        "message.received",
        "--event",
        "message.status",
        "--description",
        "shop",
    )
    assert added.exit_code == 0, added.output
    secret = secret_of(added.stdout)
    endpoint_id = re.search(r"Endpoint (\S+) added", added.stdout)
    assert endpoint_id, added.stdout
    eid = endpoint_id.group(1)

    listed = chainon("webhooks", "list", "--brand", "acme")
    assert listed.exit_code == 0, listed.output
    assert eid in listed.stdout
    assert "message.received, message.status" in listed.stdout
    assert "whsec_" not in listed.stdout

    rotated = chainon("webhooks", "rotate", eid, "--brand", "acme")
    assert rotated.exit_code == 0, rotated.output
    assert secret_of(rotated.stdout) != secret
    assert "valid until" in rotated.stdout

    assert chainon("webhooks", "rm", eid, "--brand", "acme").exit_code == 0
    assert eid not in chainon("webhooks", "list", "--brand", "acme").stdout
    assert "endpoint_id" in refused(chainon("webhooks", "rm", eid, "--brand", "acme"))


def test_a_private_address_or_an_unknown_event_is_one_line(chainon: Run, acme: str) -> None:
    line = refused(chainon("webhooks", "add", "https://127.0.0.1/x", "--brand", "acme"))
    assert line.startswith("error: url:")
    assert "CHAINON_WEBHOOKS_ALLOW_PRIVATE" in line
    line = refused(
        chainon("webhooks", "add", "https://hooks.example.com", "--brand", "acme", "--event", "sms")
    )
    assert line.startswith("error: events:")
    allowed = chainon(
        "webhooks",
        "add",
        "http://127.0.0.1:9/x",
        "--brand",
        "acme",
        env={"CHAINON_WEBHOOKS_ALLOW_PRIVATE": "true"},
    )
    assert allowed.exit_code == 0, allowed.output


def test_a_key_that_does_not_open_the_secrets_is_one_line(chainon: Run, acme: str) -> None:
    added = chainon("webhooks", "add", "https://hooks.example.com/chainon", "--brand", "acme")
    assert added.exit_code == 0, added.output
    other = Fernet.generate_key().decode()
    line = refused(
        chainon("webhooks", "list", "--brand", "acme", env={"CHAINON_SECRETS_KEY": other})
    )
    assert line.startswith("error: CHAINON_SECRETS_KEY: this key does not open"), line
    assert chainon("webhooks", "list", "--brand", "acme").exit_code == 0  # the kept key
