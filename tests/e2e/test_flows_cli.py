"""``chainon flows validate FILE``: ``FILE:LINE: field: message`` and exit 1 for a broken
flow, one line and exit 0 for a good one."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT
from tests.e2e.conftest import Run

FLOWS = ROOT / "examples" / "flows"


def test_a_valid_flow_is_one_line_and_exit_zero(chainon: Run) -> None:
    result = chainon("flows", "validate", str(FLOWS / "delivery-details.yaml"))
    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()
    assert "flow delivery-details is valid: 4 steps, sha256 " in line


def test_a_broken_flow_names_file_line_and_field(chainon: Run, tmp_path: Path) -> None:
    source = (FLOWS / "csat.yaml").read_text()
    broken = tmp_path / "csat.yaml"
    broken.write_text(source.replace("      max: 5\n", "      max: five\n"))
    line = source.splitlines().index("      max: 5") + 1
    result = chainon("flows", "validate", str(broken))
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == f"{broken}:{line}: steps[0].answer.max: Input should be a valid decimal"
    )


def test_publish_then_list_a_brands_flows(chainon: Run, acme: str) -> None:
    path = str(FLOWS / "csat.yaml")
    first = chainon("flows", "publish", path, "--brand", "acme")
    assert first.exit_code == 0, first.output
    assert "Flow csat published as version 1" in first.stdout
    again = chainon("flows", "publish", path, "--brand", "acme")
    assert "Flow csat unchanged, still version 1" in again.stdout
    listed = chainon("flows", "list", "--brand", "acme")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if line.strip().startswith("csat")]
    assert row.split()[:2] == ["csat", "1"]


def test_publishing_a_broken_flow_is_one_line_naming_the_field(
    chainon: Run, acme: str, tmp_path: Path
) -> None:
    broken = tmp_path / "csat.yaml"
    broken.write_text((FLOWS / "csat.yaml").read_text().replace("type: end", "type: stop"))
    result = chainon("flows", "publish", str(broken), "--brand", "acme")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: steps[4].type: line ")
    assert "Flow csat" not in chainon("flows", "list", "--brand", "acme").stdout


def test_a_pattern_open_to_catastrophic_backtracking_is_refused_on_its_line(
    chainon: Run, tmp_path: Path
) -> None:
    source = (FLOWS / "csat.yaml").read_text()
    risky = "    answer:\n      kind: regex\n      pattern: '(a+)+$'\n"
    broken = tmp_path / "csat.yaml"
    broken.write_text(
        source.replace("    answer:\n      kind: number\n      min: 1\n      max: 5\n", risky)
    )
    result = chainon("flows", "validate", str(broken))
    assert result.exit_code == 1
    line = broken.read_text().splitlines().index("      pattern: '(a+)+$'") + 1
    assert result.stderr.startswith(f"{broken}:{line}: steps[0].answer.pattern: ")
    assert "exponential time" in result.stderr
