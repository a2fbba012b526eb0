"""``--wait``: follow a task to a terminal status, with a live spinner for people."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .exit_codes import TaskNotCompleted
from .output import colour_enabled

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobbers.models.task import Task

    from .session import Session

    _Show = Callable[[Task], None]

FIRST_POLL_S = 0.1
MAX_POLL_S = 1.0


def follow(s: Session, task: Task, timeout: float | None = None) -> Task:
    """Poll the task until it is terminal or ``timeout`` seconds pass; return its last state."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = FIRST_POLL_S
    with _spinner() as show:
        while not task.status.is_terminal:
            show(task)
            if deadline is not None and time.monotonic() >= deadline:
                break
            pause = delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
            # A client polling a remote API: the pause is the point, not synchronisation.
            time.sleep(pause)
            delay = min(delay * 1.5, MAX_POLL_S)
            task = s.call(s.api.get_task(str(task.id)))
    return task


def require_completed(task: Task, timeout: float | None) -> None:
    """Raise TaskNotCompleted (exit 6) unless the task completed."""
    if task.status == "completed":
        return
    if not task.status.is_terminal:
        raise TaskNotCompleted(f"task {task.id} is still {task.status} after {timeout:g}s")
    error = f": {task.last_error}" if task.last_error else ""
    raise TaskNotCompleted(f"task {task.id} ended {task.status}{error}")


@contextlib.contextmanager
def _spinner() -> Iterator[_Show]:
    """A rich status line on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        yield lambda task: None
        return
    from rich.console import Console

    console = Console(stderr=True, no_color=not colour_enabled(sys.stderr))
    with console.status("waiting…") as status:
        yield lambda task: status.update(_describe(task))


def _describe(task: Task) -> str:
    parts = [f"{task.name} {task.id}: {task.status}"]
    if task.progress is not None:
        parts.append(f"{task.progress * 100:.0f}%")
    if task.progress_message:
        parts.append(task.progress_message)
    if task.retry_attempt:
        parts.append(f"(attempt {task.retry_attempt})")
    return " ".join(parts)
