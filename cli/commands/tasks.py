"""Task commands: submit, status, list, cancel, retry, active, scheduled."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .. import views
from ..exit_codes import (
    ExitCode,
    SomeFailed,
    exit_code_for,
    exit_code_for_outcome,
    one_line,
)
from ..inputs import (
    STDIN,
    check_ids,
    parse_duration,
    parse_params,
    parse_time,
    read_ids,
)
from ..options import (
    Cursor,
    Limit,
    QueueFilter,
    StatusFilter,
    TaskIdArg,
    TaskIdsArg,
    Timeout,
    Wait,
    chunks,
    complete_queue,
    page_hint,
)
from ..session import Session, api_command
from ..waiting import follow, require_completed

if TYPE_CHECKING:
    from pydantic import BaseModel

    from jobbers.api.schemas import OutcomesResponse
    from jobbers.models.task import Task

T = TypeVar("T")

NameFilter = Annotated[
    str | None,
    typer.Option("--name", help="Only tasks of this task name (filtered by the manager)"),
]


@api_command
def submit(
    s: Session,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="A registered task name", show_default=False)
    ],
    version: Annotated[int, typer.Option("--version", "-V", min=0, help="Task version")] = 1,
    queue: Annotated[
        str, typer.Option("--queue", help="Queue to submit to", autocompletion=complete_queue)
    ] = "default",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value (a string) or key:=json; repeatable"),
    ] = None,
    params: Annotated[
        str | None, typer.Option("--params", help="Parameters as a JSON object, @file or -")
    ] = None,
    task_id: Annotated[
        str | None, typer.Option("--id", help="Task id (a ULID); generated when omitted")
    ] = None,
    wait: Wait = False,
    timeout: Timeout = None,
    # Delayed submit (issue 15 §1)
    at: Annotated[
        str | None,
        typer.Option("--at", help="Run at this RFC 3339 time, e.g. 2026-12-08T09:00:00+01:00"),
    ] = None,
    in_: Annotated[
        str | None, typer.Option("--in", help="Run after this delay: 90s, 15m, 2h, 1d")
    ] = None,
    priority: Annotated[
        int, typer.Option("--priority", min=0, max=9, help="0-9, higher runs first")
    ] = 5,
    after: Annotated[
        list[str] | None,
        typer.Option("--after", help="Wait for this task to complete first; repeatable"),
    ] = None,
) -> None:
    """Submit a task (idempotent on --id); --wait follows it to the end; --at/--in delay it."""
    from ulid import ULID

    from jobbers.api.schemas import SubmitTaskRequest

    if at is not None and in_ is not None:
        raise typer.BadParameter("give --at or --in, not both", param_hint="--at")
    run_at = parse_time(at, "--at") if at is not None else None
    delay = parse_duration(in_, "--in") if in_ is not None else None
    tid = check_ids([task_id])[0] if task_id else str(ULID())
    parameters = parse_params(param or [], params)
    request = SubmitTaskRequest(
        id=tid, name=name, version=version, queue=queue, parameters=parameters, priority=priority
    )
    if run_at is not None or delay is not None:
        request = SubmitTaskRequest.model_validate(
            {**request.model_dump(exclude_unset=True), "run_at": run_at, "delay": delay}
        )
    if after:  # workflows: the task waits for these tasks (status `waiting`)
        request.depends_on = [ULID.from_str(p) for p in check_ids(after)]
    try:
        answer = s.call(s.api.submit_task(request))
    except Exception as exc:
        if exit_code_for(exc) is ExitCode.UNREACHABLE:
            s.out.note(f"task id {tid}: running this again with --id {tid} is safe")
        raise
    show_task(s, answer.task, wait, timeout, document=None if wait else answer)


@api_command
def status(s: Session, task_id: TaskIdArg, wait: Wait = False, timeout: Timeout = None) -> None:
    """Show a task: status, timings, parameters, results and error history."""
    task = s.call(s.api.get_task(check_ids([task_id])[0]))
    show_task(s, task, wait, timeout)


@api_command
def list_tasks(
    s: Session,
    status: StatusFilter = None,
    queue: QueueFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    name: NameFilter = None,
) -> None:
    """List tasks by status, queue and/or task name (waiting and running ones oldest first).

    Rows leave out parameters and results; ``jobbers status ID`` shows them.
    """
    page = s.call(s.api.list_tasks(status, queue, limit, cursor, name))
    s.out.listing(page, page.items, views.TASKS)
    page_hint(s, page.next_cursor)


@api_command
def cancel(s: Session, task_ids: TaskIdsArg) -> None:
    """Cancel tasks: waiting ones at once, running ones at their next await."""
    if len(task_ids) == 1 and task_ids[0] != STDIN:
        answer = s.call(s.api.cancel_task(check_ids(task_ids)[0]))
        s.out.listing(answer, [(answer.id, answer.outcome)], views.OUTCOMES)
        return
    ids = read_ids(task_ids)
    answers = [s.call(s.api.cancel_tasks(batch)) for batch in chunks(ids, 1000)]
    show_outcomes(s, merge_outcomes(answers), ids)


@api_command
def retry(
    s: Session,
    task_ids: TaskIdsArg,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset-retry-count",
            help="Give the tasks their full retries again (the attempt number goes on)",
        ),
    ] = False,
) -> None:
    """Put failed, stalled or cancelled tasks back on their queues."""
    if len(task_ids) == 1 and task_ids[0] != STDIN:
        task = s.call(s.api.retry_task(check_ids(task_ids)[0], reset))
        s.out.listing(task, [task], views.TASKS)
        return
    tasks, first_error = each_id(s, read_ids(task_ids), lambda tid: s.api.retry_task(tid, reset))
    s.out.listing(tasks, tasks, views.TASKS)
    if first_error is not None:
        raise SomeFailed("some tasks were not retried", first_error)


@api_command
def active(
    s: Session,
    queue: QueueFilter = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    name: NameFilter = None,
) -> None:
    """List running tasks with elapsed time, heartbeat age and progress."""
    page = s.call(s.api.active_tasks(queue, limit, cursor, name))
    s.out.listing(page, page.items, views.ACTIVE)
    page_hint(s, page.next_cursor)


@api_command
def scheduled(
    s: Session, queue: QueueFilter = None, limit: Limit = 100, cursor: Cursor = None
) -> None:
    """List tasks waiting for a retry or their run time, soonest due first."""
    page = s.call(s.api.scheduled_tasks(queue, limit, cursor))
    s.out.listing(page, page.items, views.SCHEDULED)
    page_hint(s, page.next_cursor)


# ---------------------------------------------------------------------- shared rendering


def show_task(
    s: Session, task: Task, wait: bool, timeout: float | None, document: BaseModel | None = None
) -> None:
    """Print a task (after following it with --wait); exit 6 if --wait saw it not complete."""
    if wait:
        task = follow(s, task, timeout)
    views.print_task(s.out, document or task, task)
    if wait:
        require_completed(task, timeout)


def merge_outcomes(answers: list[OutcomesResponse]) -> OutcomesResponse:
    """One OutcomesResponse from the answers of several batches."""
    if len(answers) == 1:
        return answers[0]
    merged: dict[str, str] = {}
    for answer in answers:
        merged.update(answer.results)
    return type(answers[0])(results=merged)


def show_outcomes(s: Session, answer: OutcomesResponse, order: list[str]) -> None:
    """Print per-id outcomes in the order the ids were given; exit as the first failed one."""
    rank = {tid: i for i, tid in enumerate(order)}
    rows = sorted(answer.results.items(), key=lambda row: rank.get(row[0], len(rank)))
    s.out.listing(answer, rows, views.OUTCOMES)
    codes = [exit_code_for_outcome(outcome) for _, outcome in rows]
    failed = [c for c in codes if c is not ExitCode.OK]
    if failed:
        raise SomeFailed(f"{len(failed)} of {len(codes)} ids failed", failed[0])


def each_id(
    s: Session, ids: list[str], call: Callable[[str], Coroutine[Any, Any, T]]
) -> tuple[list[T], ExitCode | None]:
    """Run ``call(id)`` per id, reporting API errors on stderr and carrying on."""
    from jobbers.api.client import ApiError

    done: list[T] = []
    first_error: ExitCode | None = None
    for tid in ids:
        try:
            done.append(s.call(call(tid)))
        except ApiError as exc:
            s.out.note(f"error: {tid}: {one_line(exc)}")
            first_error = first_error or exit_code_for(exc)
    return done, first_error
