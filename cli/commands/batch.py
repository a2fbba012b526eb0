"""``jobbers submit-many``: submit tasks from JSON Lines (a file or stdin), 1,000 per request."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..exit_codes import UsageProblem
from ..inputs import STDIN
from ..options import chunks
from ..session import Session, api_command

if TYPE_CHECKING:
    from jobbers.api.schemas import SubmitTaskRequest

BATCH = 1000  # the manager's limit per POST /submit-tasks; each request is all or nothing


@api_command
def submit_many(
    s: Session,
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="JSON Lines (one task object per line) or a JSON array; - reads stdin",
            show_default=False,
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Task name for lines that give none")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", "-V", min=0, help="Version for lines without one")
    ] = None,
    queue: Annotated[
        str | None, typer.Option("--queue", help="Queue for lines that give none")
    ] = None,
) -> None:
    """Submit many tasks from JSON Lines or a JSON array, 1,000 per request.

    Each task: {"name", "version", "queue", "parameters", "id"}; the options fill gaps.

    Missing ids are generated. Requests are all or nothing; earlier ones stay if one fails.
    """
    from jobbers.api.schemas import SubmitTasksRequest, SubmitTasksResponse

    defaults = {"name": name, "version": version, "queue": queue}
    requests = read_tasks(source, {k: v for k, v in defaults.items() if v is not None})
    answers: list[SubmitTasksResponse] = []
    with s.out.progress(len(requests), "submitting") as advance:
        for batch in chunks(requests, BATCH):
            try:
                answers.append(s.call(s.api.submit_tasks(SubmitTasksRequest(tasks=list(batch)))))
            except Exception:
                if answers:
                    stored = sum(len(a.tasks) for a in answers)
                    s.out.note(
                        f"the first {stored} tasks were stored; the {len(requests) - stored} "
                        "after them were not (fix the input and send those again)"
                    )
                raise
            advance(len(batch))
    total = SubmitTasksResponse(
        created=sum(a.created for a in answers),
        existing=sum(a.existing for a in answers),
        tasks=[t for a in answers for t in a.tasks],
    )
    again = f" ({total.existing} were already stored)" if total.existing else ""
    s.out.done(total, f"submitted {total.created} tasks{again}", [t.id for t in total.tasks])


def read_tasks(source: str, defaults: dict[str, Any]) -> list[SubmitTaskRequest]:
    """The tasks of a JSON Lines or JSON array document; UsageProblem naming the bad line."""
    from pydantic import ValidationError
    from ulid import ULID

    from jobbers.api.schemas import SubmitTaskRequest

    if source == STDIN:
        text, where = sys.stdin.read(), "stdin"
    else:
        try:
            text, where = Path(source).read_text(), source
        except OSError as exc:
            raise UsageProblem(f"{source}: {exc.strerror or exc}") from None
    items = _items(text, where)
    if not items:
        raise UsageProblem(f"{where}: no tasks")
    tasks: list[SubmitTaskRequest] = []
    seen: set[str] = set()
    for line, item in items:
        if not isinstance(item, dict):
            raise UsageProblem(f"{line}: expected a JSON object")
        try:
            task = SubmitTaskRequest.model_validate({**defaults, **item})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "task"
            raise UsageProblem(f"{line}: {field}: {first['msg']}") from None
        if task.id is None:
            task.id = ULID()
        if str(task.id) in seen:
            raise UsageProblem(f"{line}: task id {task.id} appears twice")
        seen.add(str(task.id))
        tasks.append(task)
    return tasks


def _items(text: str, where: str) -> list[tuple[str, Any]]:
    """(where it was read, value) of each task: a JSON array, or one JSON value per line."""
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageProblem(f"{where}:{exc.lineno}: not JSON: {exc.msg}") from None
        if not isinstance(values, list):
            raise UsageProblem(f"{where}: expected a JSON array or JSON Lines")
        return [(f"{where}[{i}]", value) for i, value in enumerate(values)]
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((f"{where}:{number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise UsageProblem(f"{where}:{number}: not JSON: {exc.msg}") from None
    return items
