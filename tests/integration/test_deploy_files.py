"""deploy/ checked offline, since no container engine runs here: the compose file by
docker-compose's own parser, the Containerfile by a linter and by what a deployment needs
of it, the alert rules by promtool, the dashboard against the metrics Chainon exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from chainon.observability import REGISTRY
from chainon.settings import setting_names
from devtools.env_example import render
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
CONTAINERFILE = ROOT / "Containerfile"
LINTER = ROOT / "devtools" / "deploylint" / "node_modules" / ".bin" / "dockerfile-utils"
ROLES = {"core", "relay", "dispatch", "views", "webhooks"}


def load_yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: `bash infra/deploy/tools.sh install` installs it"
    return found


def compose_config(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("docker-compose"), "-f", str(directory / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """deploy/ as a newcomer prepares it: the env file copied, the two secret files made."""
    target = tmp_path / "deploy"
    shutil.copytree(DEPLOY, target)
    shutil.copy(target / "env.example", target / "chainon.env")
    (target / "secrets" / "postgres_password").write_text("s3cret")
    (target / "secrets" / "postgres_dsn").write_text("postgresql://chainon:s3cret@postgres/chainon")
    shutil.copy(CONTAINERFILE, tmp_path / "Containerfile")  # the build context is deploy/..
    return target


def test_the_compose_file_is_valid_and_runs_every_role_from_one_image(project: Path) -> None:
    done = compose_config(project)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = load_yaml(done.stdout)
    services = config["services"]
    assert {"postgres", "kafka", "api", *ROLES} <= set(services)
    chainon = {name: s for name, s in services.items() if name == "api" or name in ROLES}
    assert {s["image"] for s in chainon.values()} == {"chainon:0.1.0"}
    assert services["api"]["command"] == ["serve"]
    for role in ROLES:
        assert services[role]["command"] == ["worker", role]
        assert services[role]["environment"]["CHAINON_WORKER_PORT"] == "9100"
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in chainon:
        env = services[name]["environment"]
        assert env["CHAINON_STORE"] == "postgres"
        assert env["CHAINON_BUS"] == "kafka"
        assert env["CHAINON_POSTGRES_DSN_FILE"] == "/run/secrets/postgres_dsn"
        assert "CHAINON_POSTGRES_DSN" not in env  # the password stays in a secret file
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"
    kafka_image = services["kafka"]["image"]
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    tested = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert tested is not None
    assert kafka_image == f"apache/kafka:{tested.group(1)}"  # the version the tests run


def test_a_broken_compose_file_is_refused(project: Path) -> None:
    path = project / "compose.yaml"
    path.write_text(path.read_text().replace("    image: postgres:", "    imagee: postgres:", 1))
    done = compose_config(project)
    assert done.returncode != 0
    assert "imagee" in done.stderr


def test_the_env_example_lists_every_setting() -> None:
    text = (DEPLOY / "env.example").read_text()
    listed = set(re.findall(r"^#?(CHAINON_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert sorted(setting_names() - listed) == [], "settings missing from deploy/env.example"
    assert sorted(listed - setting_names()) == [], "names in deploy/env.example no setting reads"
    assert text == render(), "deploy/env.example is stale: python -m devtools.env_example"


def linter() -> str:
    assert LINTER.is_file(), (
        "the Containerfile linter is missing: bash infra/deploy/tools.sh install"
    )
    return str(LINTER)


def test_the_containerfile_lints_clean_and_runs_unprivileged_with_a_health_check() -> None:
    linted = subprocess.run(
        [linter(), "lint", str(CONTAINERFILE)], capture_output=True, text=True, timeout=60
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    text = CONTAINERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(stages) == 2
    assert all(s.startswith("python:3.11-slim") for s in stages)
    assert re.search(r"^USER chainon$", text, re.MULTILINE)
    assert '"chainon", "healthcheck"' in text
    assert "--require-hashes" in text  # the locked dependencies, exactly


def test_the_linter_catches_a_broken_containerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Containerfile"
    broken.write_text(CONTAINERFILE.read_text().replace('CMD ["chainon", "healthcheck"]', "CMD"))
    linted = subprocess.run(
        [linter(), "lint", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert linted.returncode != 0
    assert "HEALTHCHECK" in linted.stdout + linted.stderr


def test_the_alert_rules_and_the_scrape_config_pass_promtool() -> None:
    rules = DEPLOY / "prometheus" / "alerts.yaml"
    checked = subprocess.run(
        [tool("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout
    names = {r["alert"] for g in load_yaml(rules.read_text())["groups"] for r in g["rules"]}
    wanted = {"ChainonConsumerLagGrowing", "ChainonDeadLetters", "ChainonRelayBehindStore"}
    assert wanted | {"ChainonSmppLinkDown"} <= names


def exposed_metrics() -> set[str]:
    """Every sample name Chainon's registry can expose (counters' _total, histograms' _bucket)."""
    names: set[str] = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        names.update(
            metric.name + suffix for suffix in ("_total", "_bucket", "_count", "_sum", "_created")
        )
    return names


@pytest.mark.parametrize(
    "source",
    [
        DEPLOY / "grafana" / "chainon-dashboard.json",
        DEPLOY / "prometheus" / "alerts.yaml",
    ],
)
def test_dashboards_and_alerts_ask_for_metrics_chainon_exposes(source: Path) -> None:
    text = source.read_text()
    if source.suffix == ".json":
        dashboard = json.loads(text)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    else:
        exprs = [r["expr"] for g in load_yaml(text)["groups"] for r in g["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\bchainon_[a-z_]+", expr)}
    assert used, "no Chainon metric asked for"
    assert sorted(used - exposed_metrics()) == []
