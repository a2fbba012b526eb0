"""Tasks: submit, status, listing, cancel (one or many) and retry."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import Body, Header, Response
from ulid import ULID

from jobbers.api.schemas import (
    CancelManyRequest,
    CancelResponse,
    OutcomesResponse,
    RetryRequest,
    SubmitTaskRequest,
    SubmitTaskResponse,
    SubmitTasksRequest,
    SubmitTasksResponse,
    SubmittedTask,
    TaskPage,
)
from jobbers.errors import InvalidInput
from jobbers.models.task import Task
from jobbers.store.workflows import Workflows

from ..deps import (
    Cursor,
    Limit,
    NameFilter,
    QueueFilter,
    RuntimeDep,
    StateDep,
    StatusFilter,
    TaskIdPath,
    check_registered,
    per_id,
    resource_router,
)
from ..errors import located, responses, responses_with
from ..runtime import Runtime

router = resource_router("tasks")

T = TypeVar("T")

# W3C Trace Context: version 00, 32-hex trace id, 16-hex parent id, 2-hex flags.
_TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def _trace_headers(traceparent: str | None, tracestate: str | None) -> dict[str, str]:
    """The trace context to store with a submitted task; {} without a valid traceparent."""
    if traceparent is None or not _TRACEPARENT.match(traceparent.strip()):
        return {}
    headers = {"traceparent": traceparent.strip()}
    if tracestate and len(tracestate) <= 512:
        headers["tracestate"] = tracestate.strip()
    return headers


# The core says "requested" for a running task; the API names what happened.
_CANCEL_OUTCOMES = {"cancelled": "cancelled", "requested": "cancel_requested"}


@router.post(
    "/submit-task",
    status_code=201,
    responses=responses_with(200, SubmitTaskResponse, "The same id and body again", 409, 413),
)
async def submit_task(
    body: SubmitTaskRequest,
    response: Response,
    state: StateDep,
    runtime: RuntimeDep,
    traceparent: Annotated[str | None, Header(include_in_schema=False)] = None,
    tracestate: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> SubmitTaskResponse:
    """Store and enqueue a task (201); the same id and body again returns it (200), runs once.

    A W3C ``traceparent`` (and ``tracestate``) request header is stored with the task, so
    that the worker's run joins the caller's trace (``jobbers[otel]``); a malformed one is
    ignored, as the W3C recommendation says.
    """
    task = _task_of(body, "body")
    if body.depends_on:  # workflows: stored `waiting` until its parents complete
        stored, created = await _stored(runtime, Workflows(state).submit_after(task), "body")
    else:
        headers = _trace_headers(traceparent, tracestate)
        stored, created = await _stored(runtime, state.submit(task, headers), "body")
    if not created:
        response.status_code = 200
    return SubmitTaskResponse(message="Task submitted successfully", task=stored)


@router.post(
    "/submit-tasks",
    status_code=201,
    responses=responses_with(200, SubmitTasksResponse, "Every task was already stored", 409, 413),
)
async def submit_tasks(
    body: SubmitTasksRequest, response: Response, state: StateDep, runtime: RuntimeDep
) -> SubmitTasksResponse:
    """Store and enqueue up to 1,000 tasks in one round trip, all or nothing.

    One unknown task, unknown queue or conflicting id (409) stores none of them, so the
    batch can be fixed and sent again; ids already stored with the same body are kept
    (``created`` false) and never run twice.
    """
    tasks = [_task_of(item, "body", "tasks", i) for i, item in enumerate(body.tasks)]
    for i, item in enumerate(body.tasks):
        if item.depends_on:  # workflows: one script per graph, not a plain batch
            raise located(
                InvalidInput("a batch cannot hold tasks with depends_on: use /submit-workflow"),
                "body", "tasks", i, "depends_on",
            )  # fmt: skip
    results = await _stored(runtime, state.submit_many(tasks), "body", "tasks")
    created = sum(1 for _, new in results if new)
    if not created:
        response.status_code = 200
    return SubmitTasksResponse(
        created=created,
        existing=len(results) - created,
        tasks=[
            SubmittedTask(id=str(stored.id), created=new, status=stored.status)
            for stored, new in results
        ],
    )


async def _stored(runtime: Runtime, submit: Awaitable[T], *loc: str | int) -> T:
    """Await a submit, timed for /metrics, with a 422 pointing at the field it is about."""
    started = time.perf_counter()
    try:
        result = await submit
    except InvalidInput as exc:
        raise _pointed(exc, *loc) from None
    runtime.metrics.submit_latency.observe(time.perf_counter() - started)
    return result


def _pointed(exc: InvalidInput, *loc: str | int) -> InvalidInput:
    """The error with its 422 ``loc`` at the field (and batch item) it is about."""
    if exc.field is None:
        return exc
    item = [] if exc.item is None or loc[-1] != "tasks" else [exc.item]
    return located(exc, *loc, *item, exc.field)


def _task_of(body: SubmitTaskRequest, *loc: str | int) -> Task:
    """The task a request asks for; 422 at its ``name`` when this manager cannot run it."""
    check_registered(body.name, body.version, *loc)
    return Task(
        id=body.id or ULID(),
        name=body.name,
        version=body.version,
        queue=body.queue,
        parameters=body.parameters,
        # Delayed submit (issue 15 §1)
        run_at=body.run_at,
        delay=body.delay,
        priority=body.priority,
        depends_on=[str(p) for p in body.depends_on],
        on_parent_failure=body.on_parent_failure,
    )


@router.get("/task-status/{task_id}", responses=responses(404))
async def task_status(task_id: TaskIdPath, state: StateDep) -> Task:
    """A task with its parameters, results and error history (and parents and children)."""
    return await Workflows(state).with_links(await state.get_task(task_id))


@router.get("/task-list", responses=responses(404))
async def task_list(
    state: StateDep,
    status: StatusFilter = None,
    queue: QueueFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    name: NameFilter = None,
) -> TaskPage:
    """A page of tasks by status, queue and/or task name (oldest first for waiting and
    running ones).

    Rows leave out parameters, results and error history: ``GET /task-status/{id}`` has
    them. Pages follow keys, not offsets, so tasks added or removed meanwhile never make
    ``next_cursor`` skip or repeat the others.
    """
    return await state.list_tasks(status, queue, limit, cursor, name)


@router.post("/task/{task_id}/cancel", responses=responses(404, 409))
async def cancel_task(task_id: TaskIdPath, state: StateDep) -> CancelResponse:
    """Cancel a waiting task at once, or ask the worker of a running one to stop it."""
    outcome = await state.cancel_task(task_id)
    task = await state.get_task(task_id)
    return CancelResponse(id=task_id, outcome=_CANCEL_OUTCOMES[outcome], task=task)


@router.post("/tasks/cancel", responses=responses(413))
async def cancel_tasks(body: CancelManyRequest, state: StateDep) -> OutcomesResponse:
    """Cancel many tasks; each id gets its own outcome, so one bad id never blocks the rest."""
    results = await per_id(body.task_ids, state.cancel_tasks)
    return OutcomesResponse(results={raw: _CANCEL_OUTCOMES.get(o, o) for raw, o in results.items()})


@router.post("/task/{task_id}/retry", responses=responses(404, 409, 413))
async def retry_task(
    task_id: TaskIdPath,
    state: StateDep,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> Task:
    """Put a failed, stalled or cancelled task back on its queue."""
    reset = body.reset_retry_count if body is not None else False
    return await state.retry_task(task_id, reset_retry_count=reset)
