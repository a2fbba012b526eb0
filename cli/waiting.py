"""``--wait``: follow a task to a terminal status, with a live spinner for people.

It waits on the manager's event stream (``GET /events?task_id=``): the task is read once
the stream is open, then again only when an event says it changed, so the answer comes
as soon as the task ends, for a handful of requests. A manager without the stream (an
older one, ``JOBBERS_EVENTS_MAXLEN=0``, a proxy that buffers) or a stream that breaks
makes it fall back to polling with a growing pause, as before.
"""

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
# While on the stream, the task is read again at a keep-alive after this long without an
# event: a safety net should the processes that change it write no events.
RECHECK_S = 5.0
# The stream's longest silence before it counts as broken (the manager pings every 5 s).
STREAM_SILENCE_S = 15.0


class _Followed:
    """The task as last read, and the deadline, shared by both ways of waiting."""

    def __init__(self, s: Session, task: Task, timeout: float | None) -> None:
        self.s = s
        self.task = task
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def left(self) -> float | None:
        """Seconds before the deadline (None: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def done(self) -> bool:
        """The task ended, or the deadline passed."""
        return self.task.status.is_terminal or self.left() == 0.0

    def read(self) -> None:
        """Read the task again."""
        self.task = self.s.call(self.s.api.get_task(str(self.task.id)))


def follow(s: Session, task: Task, timeout: float | None = None) -> Task:
    """Wait until the task is terminal or ``timeout`` seconds pass; return its last state.

    Ctrl-C names the task on stderr first: the task goes on, and a script that was
    interrupted (its stdout a pipe, so no spinner showed the id) can follow it again.
    """
    followed = _Followed(s, task, timeout)
    try:
        with _spinner() as show:
            if not task.status.is_terminal and not _on_events(followed, show):
                _polling(followed, show)
    except KeyboardInterrupt:
        sys.stderr.write(
            f"interrupted: task {followed.task.id} is still {followed.task.status}; "
            f"follow it again with: jobbers status {followed.task.id} --wait\n"
        )
        raise
    return followed.task


def _on_events(f: _Followed, show: _Show) -> bool:
    """Wait on the event stream; False when there is none or it breaks (then poll)."""
    from jobbers.api.client import ClientError

    left = f.left()
    silence = STREAM_SILENCE_S if left is None else min(STREAM_SILENCE_S, left + 0.5)
    stream = f.s.api.event_stream(task_id=str(f.task.id), read_timeout=silence)
    opened, read_at = False, time.monotonic()
    try:
        for event in f.s.iterate(stream):
            # The first item says the stream is open: the task is read then, so no change
            # after the read is missed. Later: an event (it changed) or a keep-alive.
            if not opened or event is not None or time.monotonic() - read_at >= RECHECK_S:
                f.read()
                opened, read_at = True, time.monotonic()
            show(f.task)
            if f.done():
                return True
    except ClientError:
        # A read that timed out at the deadline is the deadline; anything else: poll.
        return f.left() == 0.0
    return False  # the manager ended the stream (its Redis went away)


def _polling(f: _Followed, show: _Show) -> None:
    """Read the task with a growing pause until it ends or the deadline passes."""
    delay = FIRST_POLL_S
    while not f.task.status.is_terminal:
        show(f.task)
        left = f.left()
        if left == 0.0:
            break
        # A client polling a remote API: the pause is the point, not synchronisation.
        time.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 1.5, MAX_POLL_S)
        f.read()


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
