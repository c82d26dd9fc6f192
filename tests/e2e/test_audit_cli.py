"""``chainon audit`` and what the host's commands leave in the log: keys issued and
revoked, consent exported, each with the OS user as the actor."""

from __future__ import annotations

import json
import re
from typing import Any

from chainon.audit import cli_actor
from tests.e2e.conftest import Run, refused


def audit_json(chainon: Run, *args: str) -> list[dict[str, Any]]:
    result = chainon("audit", "--brand", "acme", "--json", *args)
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_keys_and_exports_on_the_host_are_recorded_with_the_os_user(
    chainon: Run, acme: str, tmp_path: Any
) -> None:
    issued = chainon("brands", "keys", "acme", "--issue", "ops")
    assert issued.exit_code == 0, issued.output
    key_id = re.findall(r"chn_([0-9a-f]{12})_", issued.stdout)[0]
    assert chainon("brands", "keys", "acme", "--revoke", key_id).exit_code == 0
    exported = chainon("consent", "export", "--brand", "acme", "-o", str(tmp_path / "out.json"))
    assert exported.exit_code == 0, exported.output

    found = audit_json(chainon)
    first_key = acme.split("_")[1]
    assert [(e["actor"], e["action"], e["subject"]) for e in found] == [
        (cli_actor(), "contacts.exported", "all"),
        (cli_actor(), "key.revoked", key_id),
        (cli_actor(), "key.issued", key_id),
        (cli_actor(), "key.issued", first_key),
    ]
    assert found[0]["detail"] == {"data": "consent", "rows": 0}
    assert {e["request_id"] for e in found} == {None}
    assert acme not in json.dumps(found)  # ids, never keys


def test_the_filters_and_the_table(chainon: Run, acme: str) -> None:
    assert chainon("brands", "keys", "acme", "--issue", "ops").exit_code == 0
    assert [e["action"] for e in audit_json(chainon, "--actor", cli_actor())] == [
        "key.issued",
        "key.issued",
    ]
    assert audit_json(chainon, "--actor", "key:000000000000") == []
    assert audit_json(chainon, "--from", "2999-01-01") == []
    assert len(audit_json(chainon, "--from", "2000-01-01T00:00:00+02:00", "--limit", "1")) == 1
    shown = chainon("audit", "--brand", "acme", "--action", "key.issued")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("key.issued") == 2
    assert cli_actor() in shown.stdout


def test_bad_input_is_refused_naming_it(chainon: Run, acme: str) -> None:
    line = refused(chainon("audit", "--brand", "acme", "--from", "yesterday"))
    assert line == "error: from: 'yesterday' is not an ISO 8601 time"
    line = refused(chainon("audit", "--brand", "acme", "--to", "2026-13-01"))
    assert line.startswith("error: to: ")
    assert refused(chainon("audit", "--brand", "acme", "--action", "x.y")).startswith(
        "error: action: is one of conversation.read, "
    )
    assert refused(chainon("audit", "--brand", "nobody")).startswith("error: brand: ")
