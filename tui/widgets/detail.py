"""Everything about one task: parameters, results, timestamps, attempts, error history."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from jobbers.api.schemas import Task, TaskError

from ..snapshot import Snapshot, TaskDetail
from .cells import Palette, duration, since
from .running import task_label


def stamp(moment: dt.datetime | None, now: dt.datetime) -> str:
    """An absolute UTC time and how long ago it was on the manager's clock."""
    if moment is None:
        return "—"
    ago = since(now, moment) or 0.0
    when = "in " + duration(-ago) if ago < 0 else duration(ago) + " ago"
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z ({when})"


def attempt(task: Task) -> str:
    """The attempt the task is at, counted from 1 over its life as the CLI counts it.

    Recoveries (runs lost with their worker, which use no attempt) show only when there
    were some.
    """
    recovered = f" (recoveries {task.recoveries})" if task.recoveries else ""
    return f"{task.attempt_number}{recovered}"


def pretty(value: Any) -> str:
    """Indented JSON, as the API returned it."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


class TaskDetailView(Widget):
    """Renders a ``TaskDetail`` from the frame; re-renders only when the task changed."""

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id
        self.detail: TaskDetail | None = None
        self.now = dt.datetime.now(dt.UTC)

    def update(self, snapshot: Snapshot) -> None:
        """Show the frame's task when it is this one."""
        detail = snapshot.detail
        if detail is None or detail.task_id != self.task_id:
            return
        if detail == self.detail:
            return  # unchanged: keep the scroll position and skip the layout
        self.detail, self.now = detail, snapshot.now
        self.refresh(layout=True)

    @property
    def shown_task(self) -> Task | None:
        """The task shown, once fetched."""
        return self.detail.task if self.detail else None

    def render(self) -> RenderResult:
        """Header fields, then parameters, results and every error with its traceback."""
        p = Palette.of(self.app)
        if self.detail is None:
            return Text(f"Loading task {self.task_id}…", style=p.muted)
        t = self.detail.task
        if t is None:
            return Text(f"Task {self.task_id} no longer exists.", style=p.warning)
        parts: list[RenderableType] = [self._fields(t, p)]
        if t.last_error:
            parts += [Text(""), Text(f"Error: {t.last_error}", style=p.error)]
        parts += [Text(""), Text("Parameters", style="bold underline"), Text(pretty(t.parameters))]
        if t.results is not None:
            parts += [Text(""), Text("Results", style="bold underline"), Text(pretty(t.results))]
        title = "Failure history" if t.in_dlq else "Error history"
        parts += [Text(""), Text(f"{title} ({len(t.errors)})", style="bold underline")]
        if not t.errors:
            parts.append(Text("none", style=p.muted))
        for err in t.errors:
            parts += self._error(err, p)
        return Group(*parts)

    def _fields(self, t: Task, p: Palette) -> Table:
        status = Text(t.status.value, style=p.error if t.status in ("failed", "stalled") else "")
        if t.in_dlq:
            status.append(" (in the dead-letter queue)", style=p.warning)
        if t.cancel_requested:
            status.append(" (cancel requested)", style=p.warning)
        progress = "—"
        if t.progress is not None:
            progress = f"{t.progress * 100:.0f}%"
            if t.progress_message:
                progress += f" {t.progress_message}"
        limit = t.max_heartbeat_interval
        rows: list[tuple[str, str | Text]] = [
            ("ID", str(t.id)),
            ("Task", f"{task_label(t)} on queue {t.queue}" + _priority(t.priority)),
            ("Status", status),
            ("Attempt", attempt(t)),
            ("Worker", t.worker_id or "—"),
            ("Progress", progress),
            ("Submitted", stamp(t.submitted_at, self.now)),
            ("Started", stamp(t.started_at, self.now)),
            (
                "Heartbeat",
                stamp(t.heartbeat_at, self.now) + (f", limit {duration(limit)}" if limit else ""),
            ),
            ("Finished", stamp(t.completed_at, self.now)),
        ]
        if t.scheduled_for is not None:
            rows.append(("Due", stamp(t.scheduled_for, self.now)))
        # Workflows: what the task waits for and what waits for it.
        if t.depends_on:
            policy = f" (if one fails: {t.on_parent_failure.value})"
            rows.append(("Parents", Text(", ".join(t.depends_on) + policy)))
        if t.children:
            rows.append(("Children", Text(", ".join(t.children))))
        if t.workflow_id:
            rows.append(("Workflow", Text(f"{t.workflow_id} (w opens it)")))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for label, value in rows:
            grid.add_row(label, value)
        return grid

    def _error(self, err: TaskError, p: Palette) -> list[RenderableType]:
        head = Text(f"attempt {err.attempt + 1} ", style="bold")
        head.append(err.kind, style=p.error)
        head.append(f"  {err.at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z", style=p.muted)
        if err.worker_id:
            head.append(f"  on {err.worker_id}", style=p.muted)
        # The worker writes "ExcType: text" into the message already.
        body = Text(err.message or err.exc_type or "")
        out: list[RenderableType] = [Text(""), head, body]
        if err.traceback:
            out.append(Text(err.traceback.rstrip(), style=p.muted))
        return out


def _priority(priority: int) -> str:
    """ ", priority N" for a priority other than the default (5), which goes unsaid."""
    return "" if priority == 5 else f", priority {priority}"
