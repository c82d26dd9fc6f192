"""Errors as RFC 9457 problem details, mapped once for the whole API.

Every problem names the field at fault when there is one, so a client can point at it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from chainon.api.deps import RateLimited, ScopeMissing, refused_caller
from chainon.domain.errors import Conflict, DomainError, InvalidInput, NotFound, TransitionRefused
from chainon.unit_of_work import ConcurrencyExhausted

PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[DomainError], int, str]] = [
    (InvalidInput, 422, "Invalid input"),
    (NotFound, 404, "Not found"),
    (TransitionRefused, 409, "Transition refused"),
    (Conflict, 409, "Conflict"),
    # Requests racing on one conversation (or one agent's desk), every retry lost: the
    # caller's own concurrency, not the server's health, so a 4xx to retry, not a 5xx.
    (ConcurrencyExhausted, 429, "Too many concurrent changes"),
]
_TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
}
RETRY_AFTER_SECONDS = 1


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str = Field(description="What is wrong, in words.")
    field: str | None = Field(
        None,
        description="The input at fault: `to`, `tags[0]`, `rich.suggestions[1].text`, "
        "`Idempotency-Key`...; absent when the request as a whole is at fault.",
    )
    errors: list[FieldError] | None = Field(
        None, description="Every field at fault, when the input has several."
    )
    limit: str | None = Field(
        None,
        description="On a 429 for a rate limit: the route family whose limit the API key "
        "is over (`messages`, `reads`, `writes`, `admin`, `webhooks`).",
    )
    scope: str | None = Field(
        None,
        description="On a 403: the scope the route needs and the API key lacks "
        "(`messages:send`, `conversations:read`, … `admin`).",
    )


def problem_response(description: str) -> dict[str, Any]:
    """An error one operation answers beyond those every operation declares
    (``openapi.ERRORS``), for its ``responses``: a client is told of it."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    limit: str | None = None,
    scope: str | None = None,
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
    if limit is not None:
        body["limit"] = limit
    if scope is not None:
        body["scope"] = scope
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_of(location: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "to")`` → ``to``; ``("body", "tags", 0)`` → ``tags[0]``; a bad key of a
    mapping names the mapping (the key itself may be what cannot be printed)."""
    parts = list(location)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    if "[key]" in parts:
        parts = parts[: parts.index("[key]") - 1]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _position(document: str, offset: int) -> str:
    line = document.count("\n", 0, offset) + 1
    column = offset - (document.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def whole_body_error(request: Request, exc: RequestValidationError) -> str | None:
    """What is wrong with the body as a whole, in words, when no field is at fault.

    FastAPI reports a JSON syntax error at a character offset, and a body that is not a JSON
    object at ``body``: as a ``field`` the first reads like an index, the second like the
    message text.
    """
    for error in exc.errors():
        location = tuple(error["loc"])
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "malformed")
            where = _position(exc.body, location[1]) if isinstance(exc.body, str) else None
            return f"the request body is not valid JSON: {reason}" + (
                f" ({where})" if where else ""
            )
        if location != ("body",):
            continue
        if error["type"] == "missing":
            return "a JSON object is required as the request body"
        given = request.headers.get("content-type")
        if not _is_json(given):
            return (
                "the request body must be JSON, sent with Content-Type: application/json "
                f"(given: {given or 'none'})"
            )
        return "the request body must be a JSON object"
    return None


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def install(app: FastAPI) -> None:
    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        for cls, status, title in _STATUS:
            if isinstance(exc, cls):
                retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else None
                return problem(status, title, exc.detail, field=exc.field, headers=retry)
        return problem(400, "Bad request", exc.detail, field=exc.field)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        whole = whole_body_error(request, exc)
        if whole is not None:
            refused = await refused_caller(request)
            if refused is not None:
                return await http_error(request, refused)
            return problem(422, "Invalid input", whole)
        errors = [{"field": field_of(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        first = errors[0]
        return problem(
            422,
            "Invalid input",
            f"{first['field'] or 'the request'}: {first['message']}",
            field=first["field"] or None,
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's answer to a body that is not UTF-8, read before the key was checked.
            refused = await refused_caller(request)
            if refused is not None:
                return await http_error(request, refused)
            return problem(
                422, "Invalid input", "the request body is not valid JSON: it is not UTF-8 text"
            )
        if isinstance(exc, RateLimited):
            return problem(
                429,
                "Rate limited",
                exc.detail,
                headers=dict(exc.headers or {}),
                limit=exc.family.value,
            )
        if isinstance(exc, ScopeMissing):
            return problem(403, "Forbidden", exc.detail, scope=exc.scope.value)
        title = _TITLES.get(exc.status_code, "Error")
        return problem(
            exc.status_code, title, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
