"""Every domain error becomes an HTTP status here, and only here.

=====================================================  ======  ==============================
raised                                                 status  body
=====================================================  ======  ==============================
TaskNotFound, QueueNotFound, RoleNotFound,            404     ``{"detail": "..."}``
ScheduleNotFound
Conflict (InvalidTransition, DuplicateTask,            409     ``{"detail": "..."}``
AlreadyExists)
InvalidInput, UnknownTask, pydantic ValidationError    422     ``{"detail": [{loc, msg, type}]}``
StoreUnavailable (every store verb's outage),         503     ``{"detail": "Redis is
Redis OOM/BUSY/LOADING/MASTERDOWN/... replies                   unavailable: ..."}`` (``Redis
                                                               is out of memory ...`` for OOM,
                                                               ``Redis is busy ...`` for BUSY)
                                                               + ``Retry-After``
anything else                                          500     ``{"detail": "internal ..."}``
=====================================================  ======  ==============================

422 bodies use FastAPI's list shape, so every 422 (request validation or domain) reads the
same way and matches the ``HTTPValidationError`` schema the OpenAPI document declares.
Routes raise domain errors and never build an ``HTTPException`` for them.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from jobbers.api.schemas import ErrorResponse
from jobbers.errors import (
    Conflict,
    QueueNotFound,
    RoleNotFound,
    ScheduleNotFound,
    StoreUnavailable,
    TaskNotFound,
    UnknownTask,
)
from jobbers.models.document import renderable
from jobbers.store.facade import InvalidInput

log = logging.getLogger("jobbers.server")

E = TypeVar("E", bound=Exception)

Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]

_STATUS: dict[type[Exception], int] = {
    TaskNotFound: 404,
    QueueNotFound: 404,
    RoleNotFound: 404,
    ScheduleNotFound: 404,
    Conflict: 409,
}
_UNPROCESSABLE: dict[type[Exception], str] = {
    InvalidInput: "invalid_input",
    UnknownTask: "unknown_task",
}
# Connection errors, timeouts and a read-only server reach here as StoreUnavailable: every
# store verb maps them (``jobbers.store.verbs``).
# Replies meaning "Redis is there but cannot serve this now": an outage, not a bug. redis-py
# raises classes for some; from scripts and pipelines they arrive as a plain ResponseError.
_UNAVAILABLE_REPLY_TYPES = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
)
_UNAVAILABLE_REPLY = re.compile(
    r"\b(OOM|READONLY|LOADING|MASTERDOWN|NOREPLICAS|TRYAGAIN|BUSY)\b|used memory > 'maxmemory'"
)
# The replies an operator acts on differently get their own first words in the 503's detail.
_OUT_OF_MEMORY = re.compile(r"\bOOM\b|used memory > 'maxmemory'")
_BUSY = re.compile(r"\bBUSY\b")

# OpenAPI ``responses`` entries for the error statuses, shared by the routers.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (401, "Missing or wrong bearer token (only when JOBBERS_API_TOKEN is set)"),
        (403, "Without JOBBERS_API_TOKEN: a Host that is not loopback, or another site's Origin"),
        (404, "Unknown task, queue or role"),
        (409, "The current state does not allow the operation"),
        (413, "Request body over the configured limit"),
        (503, "Redis is unavailable; retry after Retry-After seconds"),
    )
}


def responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """The OpenAPI error responses of a route, by status code."""
    return {code: ERROR_RESPONSES[code] for code in codes}


def responses_with(
    code: int, model: type, description: str, *codes: int
) -> dict[int | str, dict[str, object]]:
    """A route's other success (``code``: e.g. 201 for a PUT that created, 200 for a
    submit repeated), then its error responses."""
    return {code: {"model": model, "description": description}, **responses(*codes)}


def unprocessable(loc: list[str | int], message: str, kind: str) -> JSONResponse:
    """A 422 in FastAPI's list shape."""
    return JSONResponse(
        status_code=422, content={"detail": [{"type": kind, "loc": loc, "msg": message}]}
    )


def install_error_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Register the one mapping from errors to statuses on ``app``."""

    def status(code: int) -> Handler:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse(status_code=code, content={"detail": str(exc)})

        return handler

    def domain_unprocessable(kind: str) -> Handler:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return unprocessable(list(getattr(exc, "loc", [])), str(exc), kind)

        return handler

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own handler echoes the input, and Python's JSON parser lets NaN in:
        # rendering that back would be a 500, so non-finite numbers become strings.
        assert isinstance(exc, RequestValidationError)
        errors = _json_safe(jsonable_encoder(exc.errors()))
        return JSONResponse(status_code=422, content={"detail": errors})

    async def invalid_model(request: Request, exc: Exception) -> JSONResponse:
        # A model built inside a route (e.g. QueueConfig from a PUT body) failed its checks.
        assert isinstance(exc, ValidationError)
        errors = _json_safe(jsonable_encoder(exc.errors(include_url=False)))
        for error in errors:
            error["loc"] = ["body", *error.get("loc", [])]
        return JSONResponse(status_code=422, content={"detail": errors})

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return _unavailable_response(exc, retry_after_s)

    async def redis_reply(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, _UNAVAILABLE_REPLY_TYPES) or _UNAVAILABLE_REPLY.search(str(exc)):
            return _unavailable_response(exc, retry_after_s)
        return await internal(request, exc)

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal server error"})

    for exc_type, code in _STATUS.items():
        app.add_exception_handler(exc_type, status(code))
    for exc_type, kind in _UNPROCESSABLE.items():
        app.add_exception_handler(exc_type, domain_unprocessable(kind))
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ValidationError, invalid_model)
    app.add_exception_handler(StoreUnavailable, unavailable)
    app.add_exception_handler(redis.exceptions.ResponseError, redis_reply)
    app.add_exception_handler(Exception, internal)


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by their names, so it renders as JSON.

    Strings UTF-8 cannot encode (a lone surrogate) are repaired for the same reason.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return renderable(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _unavailable_response(exc: Exception, retry_after_s: int) -> JSONResponse:
    cause = exc.__cause__ if isinstance(exc, StoreUnavailable) and exc.__cause__ else exc
    return JSONResponse(
        status_code=503,
        content={"detail": f"{_headline(cause)}: {cause}"},
        headers={"Retry-After": str(retry_after_s)},
    )


def _headline(cause: BaseException) -> str:
    """What the operator should read first: full memory and a long script need acting on."""
    if isinstance(cause, redis.exceptions.OutOfMemoryError) or _OUT_OF_MEMORY.search(str(cause)):
        return (
            "Redis is out of memory (maxmemory reached): it refuses writes until memory is "
            "freed or maxmemory is raised"
        )
    if _BUSY.search(str(cause)):
        return "Redis is busy running a script: it answers again when the script ends"
    return "Redis is unavailable"


def located(exc: E, *loc: str | int) -> E:
    """Attach the request location (e.g. ``"body", "name"``) a 422 should point at."""
    exc.loc = list(loc)  # type: ignore[attr-defined]
    return exc


def check_body_name(body_name: str | None, path_name: str) -> None:
    """A PUT body may repeat the name its path gives, never another: 422 at ``body.name``."""
    if body_name is not None and body_name != path_name:
        raise located(
            InvalidInput(f"body name {body_name!r} does not match the path's {path_name!r}"),
            "body",
            "name",
        )
