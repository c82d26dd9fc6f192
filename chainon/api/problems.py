"""Errors as RFC 9457 problem details, mapped once for the whole API.

Every problem names the field at fault when there is one, so a client can point at it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chainon.unit_of_work import ConcurrencyExhausted
from domain.errors import Conflict, DomainError, InvalidInput, NotFound, TransitionRefused

PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[DomainError], int, str]] = [
    (InvalidInput, 422, "Invalid input"),
    (NotFound, 404, "Not found"),
    (TransitionRefused, 409, "Transition refused"),
    (Conflict, 409, "Conflict"),
    (ConcurrencyExhausted, 503, "Too many concurrent changes"),
]
_TITLES = {401: "Unauthorized", 404: "Not found", 405: "Method not allowed", 413: "Too large"}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://chainon.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_of(location: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "to")`` → ``to``; ``("body", "tags", 0)`` → ``tags[0]``."""
    parts = list(location)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def install(app: FastAPI) -> None:
    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        for cls, status, title in _STATUS:
            if isinstance(exc, cls):
                return problem(status, title, exc.detail, field=exc.field)
        return problem(400, "Bad request", exc.detail, field=exc.field)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"field": field_of(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return problem(
            422,
            "Invalid input",
            f"{first['field']}: {first['message']}",
            field=first["field"],
            errors=errors,
        )

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = _TITLES.get(exc.status_code, "Error")
        return problem(
            exc.status_code, title, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
