"""One frame of ``jobbers top``: what a poll fetched, and the client-side history beside it.

A frame costs one ``/stats`` call plus the page the visible view shows (running tasks, one
DLQ page, one page of scheduled tasks, the schedules, the workers, the roles, or the task
open in the detail modal). Nothing here
loops over tasks, so the cost of a frame does not grow with the number of tasks in Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jobbers.api.client import JobbersClient, NotFound
from jobbers.api.schemas import (
    ActiveTaskPage,
    Role,
    ScheduledTaskPage,
    ScheduleView,
    Stats,
    Task,
    TaskPage,
    TaskStatus,
    WorkerInfo,
)
from jobbers.models.dashboard import Page
from jobbers.models.workflow import Workflow, WorkflowSummary

Clock = Callable[[], dt.datetime]
DEPTH_SAMPLES = 180
STALLED_PAGE = 20


def local_now() -> dt.datetime:
    """The default clock of the app, in the local zone (tests inject a fixed one)."""
    return dt.datetime.now().astimezone()


class View(StrEnum):
    """The pages a frame can carry besides ``/stats``."""

    OVERVIEW = "overview"
    RUNNING = "running"
    DLQ = "dlq"
    WORKERS = "workers"
    QUEUES = "queues"
    SCHEDULED = "scheduled"
    SCHEDULES = "schedules"
    DETAIL = "detail"
    # Workflows: the listing and one workflow's graph (modals opened from the palette).
    WORKFLOWS = "workflows"
    WORKFLOW = "workflow"


@dataclass(frozen=True)
class TaskFilter:
    """What ``/`` narrows a view to: API filters where the API has them, free text otherwise.

    Spelling: ``name:boom queue:default version:1`` (or ``n:``, ``q:``, ``v:``); any other
    word is free text, matched case-insensitively against the row's visible fields.
    """

    text: str = ""
    name: str | None = None
    queue: str | None = None
    version: int | None = None

    @classmethod
    def parse(cls, raw: str) -> TaskFilter:
        """Read the filter an operator typed; unknown ``key:value`` pairs count as text."""
        words: list[str] = []
        fields: dict[str, Any] = {}
        for word in raw.split():
            key, sep, value = word.partition(":")
            key = {"n": "name", "q": "queue", "v": "version"}.get(key.lower(), key.lower())
            if sep and value and key in ("name", "queue"):
                fields[key] = value
            elif sep and key == "version" and value.isdigit():
                fields["version"] = int(value)
            else:
                words.append(word)
        return cls(text=" ".join(words), **fields)

    def matches(self, *values: object) -> bool:
        """True when the free text is empty or appears in one of ``values``."""
        needle = self.text.lower()
        return not needle or any(needle in str(v).lower() for v in values if v is not None)

    def __bool__(self) -> bool:
        return bool(self.text or self.name or self.queue or self.version is not None)

    def __str__(self) -> str:
        parts = [f"{k}:{v}" for k, v in (("name", self.name), ("queue", self.queue)) if v]
        if self.version is not None:
            parts.append(f"version:{self.version}")
        if self.text:
            parts.append(self.text)
        return " ".join(parts)


@dataclass(frozen=True)
class PageQuery:
    """What the visible view needs besides ``/stats``: one bounded page, never per-task calls."""

    view: View
    filter: TaskFilter = TaskFilter()
    limit: int = 100
    cursor: str | None = None
    task_id: str | None = None
    workflow_id: str | None = None  # workflows: the graph View.WORKFLOW shows


@dataclass(frozen=True)
class WorkflowDetail:
    """The workflow open in its modal, or the id of one that does not exist."""

    workflow_id: str
    workflow: Workflow | None


@dataclass(frozen=True)
class TaskDetail:
    """The task open in the detail modal, or the id of one that no longer exists."""

    task_id: str
    task: Task | None


@dataclass(frozen=True)
class Snapshot:
    """One frame: ``/stats`` plus the visible page, with the client clock and depth history.

    ``now`` is the manager's clock (ages are computed against it, so a skewed client clock
    cannot make a heartbeat look late); ``fetched_at`` is the client's, for "refreshed at".
    Pages the query did not ask for are None: screens keep what they showed last.
    """

    query: PageQuery
    stats: Stats
    fetched_at: dt.datetime
    depth: dict[str, tuple[int, ...]] = field(default_factory=dict)
    active: ActiveTaskPage | None = None
    stalled: TaskPage | None = None
    dlq: TaskPage | None = None
    scheduled: ScheduledTaskPage | None = None
    workers: list[WorkerInfo] | None = None
    roles: list[Role] | None = None
    detail: TaskDetail | None = None
    schedules: list[ScheduleView] | None = None
    # Workflows: one page of the listing, or the graph open in its modal.
    workflows: Page[WorkflowSummary] | None = None
    workflow: WorkflowDetail | None = None

    @property
    def now(self) -> dt.datetime:
        """The manager's clock when it answered ``/stats``."""
        return self.stats.now


class DepthHistory:
    """A client-side ring buffer of each queue's depth: one sample per successful poll."""

    def __init__(self, size: int = DEPTH_SAMPLES) -> None:
        self.size = size
        self._series: dict[str, deque[int]] = {}

    def record(self, stats: Stats) -> dict[str, tuple[int, ...]]:
        """Add this frame's depths; queues that disappeared are forgotten."""
        names = {q.name for q in stats.queues}
        for gone in set(self._series) - names:
            del self._series[gone]
        for q in stats.queues:
            self._series.setdefault(q.name, deque(maxlen=self.size)).append(q.depth)
        return {name: tuple(series) for name, series in self._series.items()}


async def fetch(
    client: JobbersClient, query: PageQuery, history: DepthHistory, clock: Clock = local_now
) -> Snapshot:
    """Fetch one frame: ``/stats`` and the page of ``query``, concurrently."""
    page: dict[str, Coroutine[Any, Any, Any]] = {}
    f = query.filter
    match query.view:
        case View.RUNNING:
            page["active"] = client.active_tasks(f.queue, query.limit, query.cursor)
            page["stalled"] = client.list_tasks(TaskStatus.STALLED, f.queue, STALLED_PAGE)
        case View.DLQ:
            page["dlq"] = client.list_dlq(f.name, f.queue, f.version, query.limit, query.cursor)
        case View.SCHEDULED:
            page["scheduled"] = client.scheduled_tasks(f.queue, query.limit, query.cursor)
        case View.SCHEDULES:
            page["schedules"] = _schedules(client)
        case View.WORKERS:
            page["workers"] = _workers(client)
        case View.QUEUES:
            page["roles"] = _roles(client)
            page["workers"] = _workers(client)
        case View.DETAIL if query.task_id:
            page["detail"] = _detail(client, query.task_id)
        case View.WORKFLOWS:
            page["workflows"] = client.list_workflows(query.limit, query.cursor)
        case View.WORKFLOW if query.workflow_id:
            page["workflow"] = _workflow(client, query.workflow_id)
        case _:
            pass
    stats, *values = await asyncio.gather(client.stats(), *page.values())
    return Snapshot(
        query=query,
        stats=stats,
        fetched_at=clock(),
        depth=history.record(stats),
        **dict(zip(page, values, strict=True)),
    )


async def _workers(client: JobbersClient) -> list[WorkerInfo]:
    return (await client.workers()).workers


async def _schedules(client: JobbersClient) -> list[ScheduleView]:
    return (await client.list_schedules()).schedules


async def _roles(client: JobbersClient) -> list[Role]:
    return (await client.list_roles()).roles


async def _workflow(client: JobbersClient, workflow_id: str) -> WorkflowDetail:
    try:
        return WorkflowDetail(workflow_id, await client.get_workflow(workflow_id))
    except NotFound:
        return WorkflowDetail(workflow_id, None)


async def _detail(client: JobbersClient, task_id: str) -> TaskDetail:
    # Task.errors is the full history (the DLQ history endpoint returns the same list).
    try:
        return TaskDetail(task_id, await client.get_task(task_id))
    except NotFound:
        return TaskDetail(task_id, None)
