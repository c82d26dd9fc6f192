"""The OpenAPI document, told what FastAPI cannot see: how the API answers an error, and the
webhooks Chainon sends (3.1's ``webhooks``, from ``chainon.webhooks.schemas``).

Every error is problem+json (``problems.py``), whichever operation raised it, and FastAPI
would describe a 422 as its own JSON shape and the others not at all. Generated clients and
fuzzers read this document: an error they were not told of is a surprise to them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from chainon.api.problems import PROBLEM_JSON, Problem
from chainon.api.scopes import scope_of
from chainon.webhooks.schemas import webhooks

_REF = "#/components/schemas/{model}"

ERRORS: dict[int, str] = {
    400: "Bad request: the request cannot be taken as it is",
    401: "No valid API key (`Authorization: Bearer <key>`)",
    403: "The API key lacks the scope the operation needs (`scope` names it; "
    "`x-chainon-scope` on the operation says which)",
    404: "Not found; another brand's answers the same",
    409: "Refused in the current state, or in conflict with what is recorded",
    413: "The request body is over the limit (`CHAINON_MAX_REQUEST_BYTES`)",
    422: "Invalid input: `field` names the one at fault, `errors` lists each",
    429: "Over the API key's rate limit for the route's family (`limit` names it), or too "
    "many concurrent changes to the same conversation: retry after `Retry-After`",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}
_FASTAPI_422 = "Validation Error"


def describe_errors(app: FastAPI) -> None:
    """Makes ``app.openapi()`` declare the problem responses on every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _declare(generate())  # FastAPI keeps the document it made: changed in place
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _declare(document: dict[str, Any]) -> None:
    document["webhooks"] = webhooks()
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template=_REF)
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    content = {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if operation.get("security"):
                operation["x-chainon-scope"] = scope_of(method.upper(), path).value
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                response = responses.setdefault(str(status), {"description": description})
                if response.get("description") == _FASTAPI_422:
                    response["description"] = description
                response["content"] = content
                if status in _HEADERS:
                    response["headers"] = _HEADERS[status]
    text = json.dumps(document.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if _REF.format(model=unused) not in text and unused in schemas:
            del schemas[unused]
