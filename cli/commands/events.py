"""``jobbers events``: follow task status changes as the manager's event stream tells them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from ..exit_codes import UsageProblem
from ..options import QueueFilter, StatusFilter
from ..output import Mode, clean
from ..session import Session, api_command

if TYPE_CHECKING:
    from jobbers.models.event import TaskEvent

TaskOption = Annotated[str | None, typer.Option("--task", help="Only this task's events")]
NameOption = Annotated[str | None, typer.Option("--name", help="Only tasks of this task name")]
AfterOption = Annotated[
    str | None,
    typer.Option(
        "--after",
        metavar="EVENT_ID",
        help="Start after this event id (an event's event_id; 0 = all the stream still holds)",
    ),
]
CountOption = Annotated[
    int | None, typer.Option("--count", min=1, help="Exit after this many events")
]


@api_command
def events(
    s: Session,
    queue: QueueFilter = None,
    task: TaskOption = None,
    name: NameOption = None,
    status: StatusFilter = None,
    after: AfterOption = None,
    count: CountOption = None,
) -> None:
    """Follow task status changes as they happen, one line each (Ctrl-C stops).

    --json prints each event as one JSON line (event_id, task_id, name, queue,
    from_status, status, at, worker_id, attempt); --status filters on the status entered.
    When the manager ends the stream (its Redis went away), it resumes where it stopped.
    """
    from jobbers.api.client import ManagerUnreachable, ServiceUnavailable
    from jobbers.models.enums import TaskStatus
    from jobbers.models.event import is_event_id

    last = "0-0" if after == "0" else after
    if last is not None and not is_event_id(last):
        raise UsageProblem(f"--after {after!r} is not an event id (like 1718000000000-0)")
    seen, pause = 0, 0.0
    while True:
        stream = s.api.events(
            queue=queue,
            task_id=task,
            name=name,
            status=TaskStatus(status) if status else None,
            last_event_id=last,
        )
        try:
            for event in s.iterate(stream):
                _print(s, event)
                last, seen, pause = event.event_id, seen + 1, 0.0
                if count is not None and seen >= count:
                    return
            s.out.note("the event stream ended (the manager lost Redis); resuming")
        except (ManagerUnreachable, ServiceUnavailable) as exc:
            if last is None:
                raise  # never connected: a plain error, as every command reports it
            s.out.note(f"event stream lost ({exc}); resuming")
        # Following is a long-running job: wait for the manager (or its Redis) to come back.
        time.sleep(pause)
        pause = min(pause + 1.0, 5.0)


def _print(s: Session, event: TaskEvent) -> None:
    """One event: a JSON line, its task id, TSV fields, or a line for people."""
    came = event.from_status.value if event.from_status else "new"
    if s.out.mode is Mode.JSON:
        line = event.model_dump_json()
    elif s.out.mode is Mode.QUIET:
        line = event.task_id
    elif s.out.mode is Mode.TSV:
        fields = [event.event_id, event.at.isoformat(), event.task_id, event.name, event.queue]
        fields += [came, event.status.value, event.worker_id or "", str(event.attempt)]
        line = "\t".join(clean(f) for f in fields)
    else:
        when = event.at.astimezone().strftime("%H:%M:%S.%f")[:-3]
        worker = f" on {event.worker_id}" if event.worker_id else ""
        retry = f" (retry {event.attempt})" if event.attempt else ""
        line = clean(
            f"{when}  {event.task_id}  {event.name}@{event.queue}  "
            f"{came} -> {event.status.value}{worker}{retry}"
        )
    s.out.lines([line])
    s.out.stdout.flush()
