"""Dependencies of the routes: the runtime, the StateManager, auth and shared parameters."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BeforeValidator, StringConstraints

from jobbers.api.schemas import MAX_BULK, TaskId, canonical_ulid
from jobbers.errors import UnknownTask
from jobbers.models.names import NAME_PATTERN
from jobbers.models.task import TaskStatus
from jobbers.store.facade import StateManager, check_cursor

from .errors import located, responses
from .runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """The app's runtime (settings, StateManager, metrics).

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in its
    thread pool, a hop that cost every request about a millisecond.
    """
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_state(runtime: RuntimeDep) -> StateManager:
    """The StateManager, with the default queue and role ensured once Redis has answered."""
    await runtime.ensure_defaults()
    return runtime.state


StateDep = Annotated[StateManager, Depends(get_state)]

_bearer = HTTPBearer(
    auto_error=False,
    description="The manager's JOBBERS_API_TOKEN; needed only when the manager sets one.",
)


async def require_token(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Enforce ``Authorization: Bearer <token>`` when the manager has a token."""
    expected = runtime.settings.api_token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    # Compare bytes in constant time, so response timing leaks nothing about the token.
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status_code=401,
            detail="missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def blank_is_none(value: object) -> object:
    """``?status=`` (empty) means no filter, as scripts building URLs tend to send it."""
    return None if value == "" else value


Limit = Annotated[int, Query(ge=1, le=MAX_BULK, description="page size (1-1000)")]
Cursor = Annotated[
    # A keyset cursor: the last key of the page and the position in each waiting list.
    Annotated[str, StringConstraints(max_length=4096), AfterValidator(check_cursor)] | None,
    Query(description="opaque cursor from a previous page's next_cursor"),
]
NameText = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
QueueFilter = Annotated[
    NameText | None, BeforeValidator(blank_is_none), Query(description="only tasks of this queue")
]
NameFilter = Annotated[
    NameText | None,
    BeforeValidator(blank_is_none),
    Query(description="only tasks of this task name (read from a per-name index)"),
]
StatusFilter = Annotated[
    TaskStatus | None, BeforeValidator(blank_is_none), Query(description="only this status")
]
TaskIdPath = Annotated[TaskId, Path(description="the task's ULID")]
QueueName = Annotated[str, Path(pattern=NAME_PATTERN, description="the queue's name")]
RoleName = Annotated[str, Path(pattern=NAME_PATTERN, description="the role's name")]
ScheduleName = Annotated[str, Path(pattern=NAME_PATTERN, description="the schedule's name")]


T = TypeVar("T")


def resource_router(tag: str, prefix: str = "") -> APIRouter:
    """The router of one resource: behind the token check, and documented as such (401,
    403), and as answering 503 while Redis is away."""
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        dependencies=[Depends(require_token)],
        responses=responses(401, 403, 503),
    )


def put_answer(response: Response, stored: tuple[T, bool]) -> T:
    """A PUT's answer from the store's (object, created): 201 when it created it, else 200."""
    value, created = stored
    if created:
        response.status_code = 201
    return value


def check_registered(name: str, version: int, *loc: str | int) -> None:
    """422 at ``loc`` + ``name`` when this manager's tasks module has no such task."""
    from jobbers.registry import get_task_config

    if get_task_config(name, version) is None:
        raise located(
            UnknownTask(
                f"task {name!r} version {version} is not registered in this manager's tasks module"
            ),
            *loc,
            "name",
        )


async def per_id(
    raw_ids: Sequence[str], verb: Callable[[list[str]], Awaitable[dict[str, str]]]
) -> dict[str, str]:
    """A bulk verb's outcomes for the ids as a request sent them.

    Each id is sent once in its canonical form, and every spelling of it gets that outcome;
    one that is not a ULID gets ``invalid_id`` and goes no further.
    """
    results: dict[str, str] = {}
    sent_as: dict[str, list[str]] = {}
    for raw in raw_ids:
        try:
            sent_as.setdefault(canonical_ulid(raw), []).append(raw)
        except ValueError:
            results[raw] = "invalid_id"
    outcomes = await verb(list(sent_as))
    for tid, outcome in outcomes.items():
        for raw in sent_as[tid]:
            results[raw] = outcome
    return results
