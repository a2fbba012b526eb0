"""``jobbers dlq``: list, history, resubmit, delete (by ids or by filter)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .. import views
from ..app import ParsedOptionsGroup
from ..exit_codes import UsageProblem
from ..inputs import STDIN, parse_params, read_ids
from ..options import (
    Cursor,
    Limit,
    OptionalIdsArg,
    QueueFilter,
    TaskIdArg,
    Yes,
    chunks,
    grouped_options,
    page_hint,
)
from ..output import Mode, clean, plural
from ..session import Session, api_command
from .tasks import show_outcomes

if TYPE_CHECKING:
    from jobbers.api.schemas import TaskPage

app = typer.Typer(
    cls=ParsedOptionsGroup,
    help="The dead-letter queue: browse, history, resubmit, delete.",
    no_args_is_help=True,
)

T = TypeVar("T")
BATCH = 100

TaskName = Annotated[str | None, typer.Option("--task-name", help="Only tasks of this name")]
TaskVersion = Annotated[
    int | None, typer.Option("--task-version", min=0, help="Only this task version")
]
AllOpt = Annotated[bool, typer.Option("--all", help="Every dead-lettered task (up to --limit)")]
Matching = Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many matches")]


@dataclass(frozen=True)
class Filter:
    """Which dead-lettered tasks: of a task name, queue and/or version (each optional)."""

    task_name: TaskName = None
    queue: QueueFilter = None
    task_version: TaskVersion = None

    def page(self, s: Session, limit: int, cursor: str | None) -> TaskPage:
        """One page of the matches, newest first."""
        return s.call(s.api.list_dlq(self.task_name, self.queue, self.task_version, limit, cursor))

    def given(self) -> bool:
        """Whether any of the filter's options was given."""
        return any(v is not None for v in (self.task_name, self.queue, self.task_version))


@dataclass(frozen=True)
class Selection(Filter):
    """What ``resubmit`` and ``delete`` act on: the ids given, or the filter's matches."""

    task_ids: OptionalIdsArg = None
    every: AllOpt = False

    @property
    def from_stdin(self) -> bool:
        """Whether the ids are read from stdin (which then holds no answer to a question)."""
        return STDIN in (self.task_ids or [])

    def ids(self, s: Session, limit: int) -> list[str]:
        """The ids to act on: as given, or every DLQ match of the filter (up to ``limit``)."""
        has_filter = self.every or self.given()
        if self.task_ids and has_filter:
            raise UsageProblem("give task ids or a filter (--task-name, --queue, --all), not both")
        if self.task_ids:
            return read_ids(self.task_ids)
        if not has_filter:
            raise UsageProblem("give task ids (- for stdin), a filter, or --all")
        ids: list[str] = []
        cursor: str | None = None
        while len(ids) < limit:
            page = self.page(s, min(limit - len(ids), 1000), cursor)
            ids.extend(str(t.id) for t in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        if not ids:
            s.out.note("no dead-lettered task matches the filter")
        return ids


@app.command("list")
@api_command
@grouped_options
def list_dlq(s: Session, where: Filter, limit: Limit = 50, cursor: Cursor = None) -> None:
    """List dead-lettered tasks, newest first."""
    page = where.page(s, limit, cursor)
    s.out.listing(page, page.items, views.DLQ)
    page_hint(s, page.next_cursor)


@app.command("history")
@api_command
def history(s: Session, task_id: TaskIdArg) -> None:
    """Show every failed attempt of a dead-lettered task (error, time, worker)."""
    answer = s.call(s.api.dlq_history(task_id))
    if s.out.mode is Mode.TABLE:
        task = answer.task
        s.out.text(clean(f"{task.name} v{task.version} on {task.queue}: {task.status}"))
    s.out.listing(answer, answer.history, views.HISTORY)


@app.command("resubmit")
@api_command
@grouped_options
def resubmit(
    s: Session,
    chosen: Selection,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset-retry-count/--keep-retry-count",
            help="Give the tasks their full retries again (as `jobbers top` does), or keep the "
            "retries they used",
        ),
    ] = True,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Fix a parameter: key=value or key:=json; repeatable"),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option("--params", help="Parameters to fix as a JSON object, @file or -"),
    ] = None,
    replace_params: Annotated[
        bool,
        typer.Option(
            "--replace-params",
            help="The given parameters replace each task's own (default: merged over them)",
        ),
    ] = False,
    limit: Matching = 100,
    yes: Yes = False,
) -> None:
    """Put dead-lettered tasks back on their queues: given ids, or the filter's matches.

    -p/--params change the tasks' parameters as they go back, merged over their own unless
    --replace-params. The retry count is reset unless --keep-retry-count; the attempt
    number goes on either way.
    """
    from jobbers.api.schemas import DLQResubmitRequest, DLQResubmitResponse

    if chosen.from_stdin and params == STDIN:
        raise UsageProblem("stdin can hold the ids or --params, not both")
    overrides = parse_params(param or [], params) if (param or params is not None) else None
    if replace_params and overrides is None:
        raise UsageProblem("--replace-params needs the parameters: -p or --params")
    ids = chosen.ids(s, limit)
    s.confirm(
        f"Resubmit {plural(len(ids), 'dead-lettered task')}?", yes or not ids, chosen.from_stdin
    )
    request = functools.partial(
        DLQResubmitRequest,
        reset_retry_count=reset,
        parameters=overrides,
        replace_parameters=replace_params,
    )
    answers = batched(s, ids, "resubmitting", lambda b: s.api.resubmit_dlq(request(task_ids=b)))
    results = {k: v for a in answers for k, v in a.results.items()}
    total = sum(a.resubmitted for a in answers)
    show_outcomes(s, DLQResubmitResponse(results=results, resubmitted=total), ids)


@app.command("delete")
@api_command
@grouped_options
def delete(s: Session, chosen: Selection, limit: Matching = 1000, yes: Yes = False) -> None:
    """Remove dead-lettered tasks without resubmitting them: given ids, or the filter's."""
    from jobbers.api.schemas import DLQDeleteRequest, DLQDeleteResponse

    ids = chosen.ids(s, limit)
    question = f"Remove {plural(len(ids), 'task')} from the dead-letter queue?"
    s.confirm(question, yes or not ids, chosen.from_stdin)
    answers = batched(s, ids, "removing", lambda b: s.api.delete_dlq(DLQDeleteRequest(task_ids=b)))
    removed = DLQDeleteResponse(
        removed=sum(a.removed for a in answers), task_ids=[i for a in answers for i in a.task_ids]
    )
    s.out.done(
        removed,
        f"removed {plural(removed.removed, 'task')} from the dead-letter queue",
        removed.task_ids,
    )


def batched(
    s: Session, ids: list[str], label: str, call: Callable[[list[str]], Coroutine[Any, Any, T]]
) -> list[T]:
    """Send ``ids`` in batches, with a progress bar on a terminal when there are several."""
    answers: list[T] = []
    with s.out.progress(len(ids), label) as advance:
        for batch in chunks(ids, BATCH):
            answers.append(s.call(call(list(batch))))
            advance(len(batch))
    return answers
