"""What operators and the TUI watch: running and scheduled tasks, workers, stats, metrics.

Each answer costs O(queues + page) in Redis: the core reads indexes, never the keyspace.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query, Response
from prometheus_client import CONTENT_TYPE_LATEST

from jobbers.api.schemas import (
    ActiveTask,
    ActiveTaskPage,
    ScheduledTask,
    ScheduledTaskPage,
    WorkersResponse,
)
from jobbers.models.dashboard import Stats, WorkerTotals

from ..deps import (
    Cursor,
    Limit,
    NameFilter,
    QueueFilter,
    RuntimeDep,
    StateDep,
    resource_router,
)
from ..errors import responses

router = resource_router("dashboard")


def _seconds_since(now: dt.datetime, then: dt.datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 3)


@router.get("/active-tasks", responses=responses(404))
async def active_tasks(
    state: StateDep,
    queue: QueueFilter = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    name: NameFilter = None,
) -> ActiveTaskPage:
    """Running tasks, oldest start first, with elapsed time and heartbeat age.

    Rows leave out parameters, results and error history (``GET /task-status/{id}``).
    """
    page = await state.active_tasks(queue, limit, cursor, name)
    # The manager's clock: ages stay readable while Redis is slow, and need no round trip.
    now = dt.datetime.now(dt.UTC)
    items = [
        ActiveTask.model_construct(
            **dict(task),
            elapsed_s=_seconds_since(now, task.started_at),
            heartbeat_age_s=_seconds_since(now, task.heartbeat_at or task.started_at),
        )
        for task in page.items
    ]
    return ActiveTaskPage(items=items, next_cursor=page.next_cursor)


@router.get("/scheduled-tasks", responses=responses(404))
async def scheduled_tasks(
    state: StateDep, queue: QueueFilter = None, limit: Limit = 100, cursor: Cursor = None
) -> ScheduledTaskPage:
    """Tasks waiting for a retry or their run time, soonest due first, with seconds until due."""
    page = await state.scheduled_tasks(queue, limit, cursor)
    now = dt.datetime.now(dt.UTC)
    items = [
        ScheduledTask.model_construct(
            **dict(task),
            due_in_s=None
            if task.scheduled_for is None
            else round((task.scheduled_for - now).total_seconds(), 3),
        )
        for task in page.items
    ]
    return ScheduledTaskPage(items=items, next_cursor=page.next_cursor)


@router.get("/workers")
async def workers(state: StateDep) -> WorkersResponse:
    """Registered workers: role, host, pid, last seen, lease, in-flight tasks and counts."""
    found = await state.workers()
    return WorkersResponse(workers=found, totals=WorkerTotals.of(found))


@router.get("/stats")
async def stats(
    state: StateDep,
    minutes: Annotated[int, Query(ge=1, le=120, description="minutes of per-minute series")] = 30,
) -> Stats:
    """One dashboard frame: per-queue depth, running, scheduled, throughput; DLQ; workers."""
    return await state.stats(minutes)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(state: StateDep, runtime: RuntimeDep) -> Response:
    """Prometheus metrics: tasks by status and queue, queue depth, submit latency."""
    body = runtime.metrics.render(await state.stats(minutes=60))
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
