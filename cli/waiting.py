"""``--wait``: follow a task to a terminal status, with a live spinner for people."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .exit_codes import StillRunning, TaskNotCompleted
from .output import clean, colour_enabled, duration
from .views import attempt_number

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobbers.models.task import Task

    from .session import Session

    _Show = Callable[[Task], None]

FIRST_POLL_S = 0.1
MAX_POLL_S = 1.0


def follow(s: Session, task: Task, timeout: float | None = None) -> Task:
    """Poll the task until it is terminal or ``timeout`` seconds pass; return its last state.

    Ctrl-C names the task on stderr first: the task goes on, and a script that was
    interrupted (its stdout a pipe, so no spinner showed the id) can follow it again.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = FIRST_POLL_S
    try:
        with _spinner() as show:
            while not task.status.is_terminal:
                show(task)
                if deadline is not None and time.monotonic() >= deadline:
                    break
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                # A client polling a remote API: the pause is the point, not synchronisation.
                time.sleep(delay if left is None else min(delay, left))
                delay = min(delay * 1.5, MAX_POLL_S)
                task = s.call(s.api.get_task(str(task.id)))
    except KeyboardInterrupt:
        sys.stderr.write(
            f"interrupted: task {task.id} is still {task.status}; "
            f"follow it again with: jobbers status {task.id} --wait\n"
        )
        raise
    return task


def require_completed(task: Task, timeout: float | None) -> None:
    """Raise TaskNotCompleted (exit 6) unless the task completed; StillRunning (7) if unended."""
    if task.status == "completed":
        return
    if not task.status.is_terminal:
        raise StillRunning(f"task {task.id} is still {task.status} after {timeout:g}s")
    error = f": {clean(task.last_error)}" if task.last_error else ""
    raise TaskNotCompleted(f"task {task.id} ended {task.status}{error}")


@contextlib.contextmanager
def _spinner() -> Iterator[_Show]:
    """A rich status line on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        yield lambda task: None
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True, no_color=not colour_enabled(sys.stderr))
    with console.status("waiting…") as status:
        # A Text, not a str: rich would read "[...]" in a progress message as markup.
        yield lambda task: status.update(Text(describe(task)))


def describe(task: Task, now: dt.datetime | None = None) -> str:
    """The spinner's line: status, progress, the attempt, and when a scheduled retry is due."""
    parts = [f"{task.name} {task.id}: {task.status}"]
    if task.progress is not None:
        parts.append(f"{task.progress * 100:.0f}%")
    if task.progress_message:
        parts.append(clean(task.progress_message))
    number = attempt_number(task)
    if number > 1:
        parts.append(f"(attempt {number})")
    if task.status == "scheduled" and task.scheduled_for is not None:
        due = (task.scheduled_for - (now or dt.datetime.now(dt.UTC))).total_seconds()
        parts.append(f"retry due in {duration(due)}" if due > 0 else "retry due now")
    return " ".join(parts)
