"""Exception handlers: everything leaves as the contract's envelope, nothing as a bare 500 page."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from foureyes.core.errors import AppError, ErrorItem, UnstorableText
from foureyes.core.logging import get_logger

log = get_logger("foureyes.errors")
WORKFLOW_PREFIX = "/api_gateway/v2/request-workflow"


def _validation_code(path: str) -> int:
    return 2008 if path.startswith(WORKFLOW_PREFIX) else 400


def _reference(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def _render(
    status: int, items: list[ErrorItem], data: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"data": data, "errors": [i.as_dict() for i in items], "warnings": []}, status_code=status, headers=headers
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        if isinstance(exc, UnstorableText):
            # Raised from the database layer, which cannot know the surface; the code follows the path.
            code = _validation_code(request.url.path)
            return _render(400, [ErrorItem(code, exc.items[0].message, None)])
        return _render(exc.status, exc.items, exc.data, exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code = _validation_code(request.url.path)
        items = []
        for err in exc.errors()[:50]:
            kind = err.get("type", "")
            message = "Malformed JSON body" if kind == "json_invalid" else str(err.get("msg", "Invalid value"))
            items.append(ErrorItem(code, message, _reference(tuple(err.get("loc", ())))))
        return _render(400, items or [ErrorItem(code, "Invalid request")])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            code = 2007 if request.url.path.startswith(WORKFLOW_PREFIX) else 404
            return _render(404, [ErrorItem(code, "No such resource or route", None)])
        if exc.status_code == 405:
            return _render(405, [ErrorItem(405, "Method not allowed on this route", None)])
        return _render(exc.status_code, [ErrorItem(exc.status_code, str(exc.detail), None)])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        # This response leaves from outside the request-id middleware; echo the id so a caller can quote it.
        request_id = getattr(request.state, "request_id", None)
        headers = {"x-request-id": request_id} if request_id else None
        return _render(500, [ErrorItem(500, "Internal error; it has been logged", None)], headers=headers)
