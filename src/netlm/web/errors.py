"""One error shape for the whole API: `{"errors": [{"field": ..., "message": ...}]}`.

The messages are the same as the command line's (netlm.model.parse), and no handler ever lets a
stack trace reach the client.
"""

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from netlm.model.parse import CaseInputError, Problem
from netlm.store.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    Throttled,
    ValidationFailed,
)

log = logging.getLogger("netlm.web")


class ApiError(Exception):
    def __init__(self, status: int, field: str, message: str) -> None:
        self.status, self.field, self.message = status, field, message
        super().__init__(message)


def error_body(problems: list[tuple[str, str]]) -> dict[str, object]:
    return {"errors": [{"field": f, "message": m} for f, m in problems]}


def _json(status: int, problems: list[tuple[str, str]], **headers: str) -> JSONResponse:
    return JSONResponse(error_body(problems), status_code=status, headers=headers or None)


def case_problems(exc: CaseInputError) -> tuple[int, list[tuple[str, str]]]:
    """400 when the body is not JSON at all, 422 when it is JSON but not a valid case."""
    problems: list[Problem] = exc.problems
    status = 400 if all(p.path == "(json)" for p in problems) else 422
    return status, [(p.path, p.message) for p in problems]


# Paths answered by machines: their errors stay JSON; every other path is a page for a person.
MACHINE_PATHS = ("/api/", "/cds-services", "/healthz", "/docs", "/openapi.json")


def for_machines(request: Request) -> bool:
    return request.url.path.startswith(MACHINE_PATHS)


PageError = Callable[[Request, int], Response]


def install(app: FastAPI, page_error: PageError) -> None:
    """JSON errors for the API; for pages, `page_error` renders the error as a page."""

    @app.exception_handler(CaseInputError)
    async def _case(_: Request, exc: CaseInputError) -> JSONResponse:
        status, problems = case_problems(exc)
        return _json(status, problems)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, [(exc.field, exc.message)])

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        if not for_machines(request):
            return page_error(request, 404)
        return _json(404, [("(path)", str(exc) or "not found")])

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        if not for_machines(request):
            return page_error(request, 409)
        return _json(409, [("(resource)", str(exc) or "conflict")])

    @app.exception_handler(ValidationFailed)
    async def _invalid(request: Request, exc: ValidationFailed) -> Response:
        if not for_machines(request):
            return page_error(request, 422)
        return _json(422, [(exc.field, exc.message)])

    @app.exception_handler(InvalidCredentials)
    async def _credentials(_: Request, __: InvalidCredentials) -> JSONResponse:
        return _json(401, [("(credentials)", "invalid username or password")])

    @app.exception_handler(Throttled)
    async def _throttled(_: Request, exc: Throttled) -> JSONResponse:
        message = f"too many failed attempts; retry in {exc.retry_after} s"
        return _json(429, [("(credentials)", message)], **{"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"] if p not in ("body", "query", "path", "header")]
            problems.append((".".join(loc) or "(request)", str(err["msg"])))
        return _json(422, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        return _json(exc.status_code, [("(request)", str(exc.detail))], **headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, [("(server)", "internal error; the event was logged")])
