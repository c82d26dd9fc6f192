"""The AsyncAPI document as the CLI writes it, checked against the spec's official JSON Schema
(the ``@asyncapi/specs`` package ``make test`` installs), as AsyncAPI's tools check it; and
the OpenAPI document of the HTTP API, checked with ``openapi-spec-validator``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from typer.testing import CliRunner

from chainon.api.app import create_app
from chainon.asyncapi import document
from chainon.cli import app
from chainon.settings import StoreKind
from tests.conftest import ROOT, make_settings

DOC = document()
SPECS = ROOT / "devtools" / "asyncapi" / "node_modules" / "@asyncapi" / "specs" / "schemas"


def spec_validator(version: str) -> jsonschema.Validator:
    """The official schema of that AsyncAPI version (its definitions are embedded in it)."""
    path = SPECS / f"{version}.json"
    assert path.exists(), f"{path} is missing: run `npm ci --prefix devtools/asyncapi`"
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def problems(doc: dict[str, Any]) -> list[str]:
    errors = spec_validator(doc["asyncapi"]).iter_errors(doc)
    return ["/".join(str(p) for p in e.absolute_path) + f": {e.message[:200]}" for e in errors]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("asyncapi") / "asyncapi.json"
    result = CliRunner().invoke(app, ["schemas", "export", "--output", str(target)])
    assert result.exit_code == 0, result.output
    written: dict[str, Any] = json.loads(target.read_text())
    return written


def test_the_cli_exports_the_same_document(exported: dict[str, Any]) -> None:
    assert exported == DOC


def test_the_exported_document_is_valid_against_the_official_schema_of_its_version(
    exported: dict[str, Any],
) -> None:
    assert exported["asyncapi"] == "3.0.0"
    assert problems(exported) == []


def test_the_official_schema_refuses_pydantics_discriminator_objects(
    exported: dict[str, Any],
) -> None:
    """What made the document invalid before: the check must see it."""
    broken = copy.deepcopy(exported)
    broken["components"]["messages"]["Command"]["payload"]["discriminator"] = {
        "propertyName": "type",
        "mapping": {},
    }
    assert [p.split(":")[0] for p in problems(broken)] == ["components/messages/Command"]


def test_the_openapi_document_is_valid(tmp_path: Path) -> None:
    spec = create_app(make_settings(StoreKind.SQLITE, tmp_path)).openapi()
    assert spec["openapi"].startswith("3.1")
    validate_openapi(spec)  # type: ignore[arg-type]


def test_the_openapi_validator_refuses_a_broken_document(tmp_path: Path) -> None:
    spec = create_app(make_settings(StoreKind.SQLITE, tmp_path)).openapi()
    operation = spec["paths"]["/v1/messages"]["post"]
    operation["responses"] = {"ok": operation["responses"]["202"]}  # not a status code
    with pytest.raises(OpenAPIValidationError):
        validate_openapi(spec)  # type: ignore[arg-type]
